# Every target makes its own virtual environment in .venv; nothing else is assumed installed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

## run: clean the sample corpus in raw/ into out/ and print the run summary
run: $(STAMP)
	$(BIN)/corpusclean run raw -o out

## test: run the test suite, two test files at a time (the budget is about ten minutes on 2 cores; one
## process left a core idle while each test's subprocess started: 843-964 s serially, 563 s so in a
## checkout, 623 s in a fresh clone with ../shared)
TEST_PROCESSES ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_PROCESSES) --dist loadfile

## fuzz: 100,000+ generated cases through normalization, segmentation, parsers, decoding, MinHash, rules
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz.py --cases 100000

## bench: extraction quality and page metadata (dates against WCXB's publish_date) on ../shared/aeb and
## ../shared/wcxb-dev-articles, beside plain trafilatura
bench: $(STAMP)
	$(BIN)/python benchmarks/extraction_quality.py
	$(BIN)/python benchmarks/metadata_quality.py

clean:
	rm -rf $(VENV) out
