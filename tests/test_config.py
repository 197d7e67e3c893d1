"""Configuration: bundled defaults, a user TOML overlay, validation, and the config hash."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from corpusclean.config import Config, configs_dir, load_config
from corpusclean.errors import UsageError


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


def test_user_file_overrides_lists_strings_and_ints(tmp_path):
    path = _user_config(tmp_path, '[rules]\ndisabled = ["generic.byline"]\nsites_dir = "my_sites"\n'
                                  "[dedup]\nmin_words = 5\n")
    config = load_config(path)
    assert config.section("rules")["disabled"] == ["generic.byline"]
    assert config.sites_dir() == Path("my_sites")
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
