"""Configuration: bundled defaults, a user TOML overlay, validation, and the config hash."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from corpusclean.config import SECTIONS, Config, ConfigSchema, configs_dir, load_config, rule_ids
from corpusclean.errors import UsageError
from tests.conftest import corpusclean


def _user_config(tmp_path: Path, text: str, name: str = "user.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_match_default_toml():
    config = load_config()
    assert config.source == "default"
    with (configs_dir() / "default.toml").open("rb") as handle:
        assert config.values == tomllib.load(handle)
    assert config.section("extract")["include_comments"] is False
    assert config.section("extract")["include_tables"] is True
    assert config.section("input")["jsonl_text_field"] == "text"
    assert config.section("input")["max_decompressed_bytes"] == 268435456
    assert config.section("segment")["min_article_words"] == 15
    assert config.section("rules")["disabled"] == []
    assert config.section("dedup")["min_words"] == 3
    assert config.sites_dir() == configs_dir() / "sites"
    assert (config.sites_dir() / "globalresearch.toml").is_file()


def test_user_file_overrides_one_key(tmp_path):
    path = _user_config(tmp_path, "[extract]\ninclude_comments = true\n")
    config = load_config(path)
    assert config.section("extract")["include_comments"] is True
    assert config.source == str(path)
    # everything else keeps its default
    defaults = load_config()
    assert config.section("extract")["include_tables"] == defaults.section("extract")["include_tables"]
    assert config.section("input") == defaults.section("input")
    # the defaults themselves are not modified by the overlay
    assert load_config().section("extract")["include_comments"] is False


def _sites(tmp_path: Path) -> Path:
    """A sites folder holding one pack with the rule ``mysite.footer``."""
    sites = tmp_path / "my_sites"
    sites.mkdir()
    (sites / "mysite.toml").write_text('[[rule]]\nid = "mysite.footer"\nscope = "paragraph"\npattern = "Footer"\n',
                                       encoding="utf-8")
    return sites


def test_user_file_overrides_lists_strings_and_ints(tmp_path):
    sites = _sites(tmp_path)
    path = _user_config(tmp_path, f'[rules]\ndisabled = ["generic.byline", "mysite.footer"]\nsites_dir = "{sites.as_posix()}"\n'
                                  "[dedup]\nmin_words = 5\n")
    config = load_config(path)
    assert config.section("rules")["disabled"] == ["generic.byline", "mysite.footer"]
    assert config.sites_dir() == sites
    assert config.section("dedup")["min_words"] == 5


def test_overrides_dict_applies_after_file(tmp_path):
    path = _user_config(tmp_path, "[dedup]\nmin_words = 5\n")
    config = load_config(path, overrides={"dedup": {"min_words": 7}})
    assert config.section("dedup")["min_words"] == 7


def test_overrides_dict_is_validated():
    with pytest.raises(UsageError, match=r"dedup\.min_word\b"):
        load_config(overrides={"dedup": {"min_word": 7}})


def test_unknown_key_is_named(tmp_path):
    path = _user_config(tmp_path, "[extract]\ninclude_coments = true\n")
    with pytest.raises(UsageError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "extract.include_coments" in message
    assert str(path) in message
    assert "include_comments" in message  # the known keys are listed


def test_unknown_section_is_named(tmp_path):
    path = _user_config(tmp_path, "[extrakt]\ninclude_comments = true\n")
    with pytest.raises(UsageError, match=r"\[extrakt\]"):
        load_config(path)


def test_top_level_key_outside_a_section(tmp_path):
    path = _user_config(tmp_path, "workers = 4\n")
    with pytest.raises(UsageError, match="workers"):
        load_config(path)


def test_section_that_is_not_a_table(tmp_path):
    path = _user_config(tmp_path, 'extract = "yes"\n')
    with pytest.raises(UsageError, match=r"\[extract\] must be a table"):
        load_config(path)


@pytest.mark.parametrize("toml_text, key, expected_type", [
    ('[extract]\ninclude_comments = "yes"\n', "extract.include_comments", "bool"),
    ("[extract]\ninclude_comments = 1\n", "extract.include_comments", "bool"),
    ("[dedup]\nmin_words = true\n", "dedup.min_words", "int"),
    ("[dedup]\nmin_words = 3.5\n", "dedup.min_words", "int"),
    ('[segment]\nmin_article_words = "15"\n', "segment.min_article_words", "int"),
    ('[rules]\ndisabled = "generic.byline"\n', "rules.disabled", "list"),
    ("[input]\njsonl_text_field = 3\n", "input.jsonl_text_field", "str"),
])
def test_wrong_type_is_refused(tmp_path, toml_text, key, expected_type):
    path = _user_config(tmp_path, toml_text)
    with pytest.raises(UsageError) as caught:
        load_config(path)
    message = str(caught.value)
    assert key in message
    assert f"must be {expected_type}" in message


def test_missing_file(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_invalid_toml(tmp_path):
    path = _user_config(tmp_path, "[extract\ninclude_comments = true\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_config(path)


def test_config_hash_is_stable_for_equal_configs(tmp_path):
    assert load_config().config_hash() == load_config().config_hash()
    # a user file restating a default resolves to the same config, so to the same hash
    same = _user_config(tmp_path, "[extract]\ninclude_comments = false\n", "same.toml")
    assert load_config(same).config_hash() == load_config().config_hash()
    assert len(load_config().config_hash()) == 16


def test_config_hash_changes_with_a_value(tmp_path):
    base = load_config().config_hash()
    changed = _user_config(tmp_path, "[extract]\ninclude_comments = true\n", "changed.toml")
    assert load_config(changed).config_hash() != base
    assert load_config(overrides={"dedup": {"hash_seed": 1}}).config_hash() != base
    assert load_config(overrides={"rules": {"disabled": ["generic.byline"]}}).config_hash() != base


def test_config_hash_includes_rule_material():
    values = load_config().values
    plain = Config(values=values)
    with_rules = Config(values=values, extra_hash_material=("[[rule]]\nid = 'a'\n",))
    other_rules = Config(values=values, extra_hash_material=("[[rule]]\nid = 'b'\n",))
    assert plain.config_hash() != with_rules.config_hash() != other_rules.config_hash()
    assert with_rules.config_hash() == Config(values=values, extra_hash_material=("[[rule]]\nid = 'a'\n",)).config_hash()


# ---- the schema: types and ranges (issue 13) ----

def _default_toml() -> dict:
    with (configs_dir() / "default.toml").open("rb") as handle:
        return tomllib.load(handle)


def test_schema_and_default_toml_name_the_same_keys_and_the_defaults_validate():
    defaults = _default_toml()
    assert list(SECTIONS) == list(defaults)
    for section, model in SECTIONS.items():
        assert set(model.model_fields) == set(defaults[section]), section
        assert all(info.is_required() for info in model.model_fields.values()), "defaults live in default.toml only"
    ConfigSchema.model_validate(defaults)


def test_values_stay_plain_dicts_and_the_default_hash_is_unchanged():
    config = load_config()
    assert type(config.values) is dict and all(type(v) is dict for v in config.values.values())
    # validation reads the values and never rewrites them: the hash is that of default.toml as parsed
    assert config.config_hash() == Config(values=_default_toml()).config_hash()


def _one_line_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(UsageError) as caught:
        load_config(_user_config(tmp_path, text, "config.toml"))
    message = str(caught.value)
    assert "\n" not in message
    return message


# the cases of issue 13: each failed later with a traceback, or was silently accepted
ISSUE_CASES = [
    ("[dedup]\nnear_threshold = 7\n", "dedup.near_threshold = 7 is out of range: must be > 0 and <= 1"),
    ("[dedup]\nnum_perm = 0\n", "dedup.num_perm = 0 is out of range: must be >= 2"),
    ("[dedup]\nshingle_size = 0\n", "dedup.shingle_size = 0 is out of range: must be >= 1"),
    ('[rules]\ndisabled = ["generic.bylin"]\n', 'rules.disabled names unknown rule id "generic.bylin" '
                                                 "(did you mean generic.byline"),
]


ISSUE_IDS = ["near_threshold", "num_perm", "shingle_size", "disabled_typo"]


@pytest.mark.parametrize("toml_text, expected", ISSUE_CASES, ids=ISSUE_IDS)
def test_issue_cases_are_one_line_usage_errors(tmp_path, toml_text, expected):
    message = _one_line_error(tmp_path, toml_text)
    assert message.startswith(f"{tmp_path / 'config.toml'}: {expected}")


@pytest.mark.parametrize("toml_text, expected", [
    ("[dedup]\nnear_threshold = 0.0\n", "dedup.near_threshold = 0.0 is out of range: must be > 0 and <= 1"),
    ("[dedup]\nmin_containment = -0.1\n", "dedup.min_containment = -0.1 is out of range"),
    ("[dedup]\nnear_threshold = nan\n", "dedup.near_threshold = nan is out of range"),
    ("[run]\nshard_mb = inf\n", "run.shard_mb = inf is out of range: must be >= 1e-06"),
    ("[dedup]\nnum_perm = 100000\n", "dedup.num_perm = 100000 is out of range: must be >= 2 and <= 1024"),
    ("[dedup]\nmax_bucket_size = 1\n", "dedup.max_bucket_size = 1 is out of range: must be >= 2"),
    ("[dedup]\nminhash_seed = -1\n", "dedup.minhash_seed = -1 is out of range: must be >= 0 and <= 4294967295"),
    ("[run]\nshard_files = 0\n", "run.shard_files = 0 is out of range: must be >= 1"),
    ("[segment]\nmin_article_words = -1\n", "segment.min_article_words = -1 is out of range: must be >= 0"),
    ('[input]\njsonl_text_field = ""\n', 'input.jsonl_text_field = "" is out of range: must be a non-empty string'),
    ('[rules]\ndisabled = [""]\n', "must be a list of non-empty strings"),
    ("[dedup]\ncontainment_sample_mod = 9\n", "dedup.containment_sample_mod = 9 is out of range: "
                                               "must be <= dedup.min_shared_shingles (8)"),
    ('[input]\njsonl_html_field = "text"\n', "input.jsonl_text_field and input.jsonl_html_field are both"),
    ("[extract]\nfavor_precision = true\nfavor_recall = true\n", "extract.favor_precision and extract.favor_recall"),
    ("[run]\nshard_files = true\n", "config key run.shard_files must be int, got bool True"),
    ("[run]\nshard_mb = true\n", "config key run.shard_mb must be float, got bool True"),
    ("[rules]\ndisabled = [1]\n", "config key rules.disabled must be list of str, got int 1"),
    ("[dedup]\nmin_word = 3\n", "unknown config key dedup.min_word (did you mean dedup.min_words?)"),
])
def test_ranges_and_cross_key_rules_are_refused_on_one_line(tmp_path, toml_text, expected):
    assert expected in _one_line_error(tmp_path, toml_text)


def test_values_inside_the_ranges_are_accepted(tmp_path):
    path = _user_config(tmp_path, "[dedup]\nnear_threshold = 1.0\nnum_perm = 2\nmin_containment = 1\n"
                                  "[run]\nshard_mb = 8\n[segment]\nmin_article_words = 0\n")
    config = load_config(path)
    assert config.section("dedup")["num_perm"] == 2 and config.section("run")["shard_mb"] == 8  # int for a float


def test_rule_ids_come_from_the_configured_sites_dir(tmp_path):
    bundled = rule_ids()
    assert {"generic.byline", "globalresearch.permission"} <= bundled
    sites = _sites(tmp_path)
    assert rule_ids(sites) == {i for i in bundled if i.startswith("generic.")} | {"mysite.footer"}
    # a bundled site pack's rule is not loaded once sites_dir points elsewhere, so it is unknown there
    message = _one_line_error(tmp_path, f'[rules]\nsites_dir = "{sites.as_posix()}"\n'
                                        'disabled = ["globalresearch.permission"]\n')
    assert 'unknown rule id "globalresearch.permission"' in message and str(sites) in message
    assert load_config(overrides={"rules": {"disabled": ["globalresearch.permission"]}})
    message = _one_line_error(tmp_path, '[rules]\nsites_dir = "no/such/folder"\ndisabled = ["generic.byline"]\n')
    assert 'rules.sites_dir = "no/such/folder" is not a folder' in message


def test_unknown_rule_ids_are_all_named(tmp_path):
    message = _one_line_error(tmp_path, '[rules]\ndisabled = ["generic.byline", "zzz", "generic.share_widgit"]\n')
    assert 'unknown rule ids "zzz"; "generic.share_widgit" (did you mean generic.share_widget' in message


def test_overrides_are_range_checked_too():
    with pytest.raises(UsageError, match=r"^overrides: dedup\.num_perm = 0 is out of range"):
        load_config(overrides={"dedup": {"num_perm": 0}})


@pytest.mark.parametrize("toml_text, expected", ISSUE_CASES, ids=ISSUE_IDS)
def test_cli_refuses_issue_cases_before_work_starts(tmp_path, toml_text, expected):
    config = _user_config(tmp_path, toml_text, "config.toml")
    out = tmp_path / "out"
    completed = corpusclean("run", "raw", "-o", str(out), "--config", str(config), timeout=120)
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in completed.stderr
    assert lines[0].startswith(f"corpusclean: error: {config}: {expected}")
    assert not out.exists() or not any(out.rglob("*.parquet"))  # no table written: work never started
