"""Settings that describe themselves: help, accepted values and parsing live on each field."""

import dataclasses
from dataclasses import dataclass

import pytest

from rlbook import settings
from rlbook.cli import build_parser
from rlbook.dqn_config import DQNConfig
from rlbook.settings import setting


@dataclass
class Toy:
    rounds: int = setting(3, "how many rounds", positive=True)
    rate: float = setting(0.5, "a rate", within=(0.0, 1.0))
    mode: str = setting("fast", "how to run", choices=("fast", "slow"))
    loud: bool = setting(False, "say more")
    floor: int = setting(0, "a floor", at_least=-1)

    def __post_init__(self):
        settings.check(self)


def _field(name: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(Toy) if f.name == name)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rounds": 0}, "rounds must be positive, got 0"),
        ({"rate": 1.5}, r"rate must lie in \[0.0, 1.0\], got 1.5"),
        ({"mode": "medium"}, r"unknown mode 'medium'; choose one of \['fast', 'slow'\]"),
        ({"floor": -2}, "floor must be >= -1, got -2"),
        ({"rounds": "3"}, "rounds takes a whole number, got '3'"),
        ({"rounds": True}, "rounds takes a whole number, got True"),
        ({"loud": 1}, "loud takes true or false, got 1"),
    ],
)
def test_check_names_the_field_and_what_it_accepts(values, message):
    with pytest.raises(ValueError, match=message):
        Toy(**values)


def test_an_int_is_taken_where_a_number_is_asked():
    assert settings.check_value(_field("rate"), 1) == 1.0


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("rounds", "2_000_000", 2_000_000),
        ("rounds", "2e6", 2_000_000),
        ("rate", "0.25", 0.25),
        ("loud", "yes", True),
        ("loud", "0", False),
        ("mode", " slow ", "slow"),
    ],
)
def test_parse_reads_values_as_the_field_types_them(name, text, value):
    parsed = settings.parse(_field(name), text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(("name", "text"), [("rounds", "1.5"), ("rate", "fast"), ("loud", "maybe")])
def test_parse_refuses_text_that_is_not_of_the_fields_type(name, text):
    with pytest.raises(ValueError, match=f"{name} takes .*, got '{text}'"):
        settings.parse(_field(name), text)


def test_every_dqn_setting_has_help_and_the_command_line_shows_it():
    helps = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for field in dataclasses.fields(DQNConfig):
        assert settings.help_of(field), f"{field.name} has no help"
        assert "--" + field.name.replace("_", "-") in helps
    assert "replay memory in transitions" in helps


def test_the_command_line_refuses_a_value_of_the_wrong_type(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--run", "r", "--buffer-size", "1e5.5"])
    assert "buffer_size takes a whole number, got '1e5.5'" in capsys.readouterr().err


def test_describe_gives_a_table_of_every_setting_for_the_book():
    table = settings.describe(DQNConfig)._repr_markdown_()
    assert table.count("\n") == len(dataclasses.fields(DQNConfig)) + 2
    assert "| `--buffer-size` | `400000` | replay memory in transitions" in table


def test_a_catch_run_gets_the_small_network_unless_one_is_named():
    assert DQNConfig(game="Catch").network == "small"
    assert DQNConfig(game="Breakout").network == "nature"
    assert DQNConfig(game="Catch", network="nature").network == "nature"


@pytest.mark.parametrize(
    ("config", "values", "message"),
    [
        ("rlbook.tabular:TabularConfig", {"episodes": 0}, "episodes must be positive"),
        ("rlbook.tabular:TabularConfig", {"discount": 1.2}, r"discount must lie in \[0, 1\]"),
        ("rlbook.qnetwork:QNetworkConfig", {"epsilon_every": -5}, "epsilon_every must be pos"),
        ("rlbook.qnetwork:QNetworkConfig", {"learning_rate": "fast"}, "learning_rate takes a num"),
    ],
)
def test_the_frozenlake_configs_check_their_settings_too(config, values, message):
    import importlib

    module, name = config.split(":")
    with pytest.raises(ValueError, match=message):
        getattr(importlib.import_module(module), name)(**values)
