"""The shared settings machinery: checks from field metadata, mappings, diffs, help."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from smlmscale.errors import InputError
from smlmscale.settings import Settings, default_of, flag_of, option_help, setting


@dataclass(frozen=True)
class Psf(Settings):
    settings_prefix = "psf."
    sigma_nm: float = setting(130.0, min=0, min_open=True, unit="nm", help="PSF sigma")
    z_range_nm: tuple[float, float] = setting((-500.0, 500.0), ordered=True, unit="nm",
                                              help="Axial range")


@dataclass(frozen=True)
class Example(Settings):
    epochs: int = setting(50, min=1, help="Last epoch")
    lr: float = setting(1e-3, min=0, min_open=True, help="Learning rate")
    factor: float = setting(0.5, min=0, max=1, min_open=True, max_open=True)
    target_sigma_px: float = setting(1.0, min=0, min_open=True, unit="target px",
                                     help="Target blur")
    mode: str = setting("a", choices=("a", "b"))
    budget: int | None = setting(None, min=1, default_text="the machine's")
    augment: bool = setting(True, help="Flips and turns")
    psf: Psf = setting(default_factory=Psf)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode == "b" and self.epochs > 100:
            raise InputError("mode b trains at most 100 epochs", param="epochs")


@pytest.mark.parametrize("changes, words", [
    ({"epochs": 0}, "--epochs must be at least 1, got 0"),
    ({"epochs": 2.5}, "--epochs must be an integer, got 2.5"),
    ({"epochs": True}, "--epochs must be an integer"),
    ({"lr": -1}, "--lr must be a positive number, got -1.0"),
    ({"lr": float("nan")}, "--lr must be a positive number"),
    ({"lr": "fast"}, "--lr must be a number"),
    ({"factor": 1.0}, "--factor must be in (0, 1), got 1.0"),
    ({"target_sigma_px": 0}, "--target-sigma must be a positive number"),
    ({"mode": "c"}, "--mode must be one of a, b, got 'c'"),
    ({"budget": 0}, "--budget must be at least 1"),
    ({"augment": "yes"}, "--augment must be true or false"),
    ({"mode": "b", "epochs": 200}, "mode b trains at most 100 epochs"),
])
def test_checks_name_the_parameter(changes, words):
    with pytest.raises(InputError) as info:
        Example(**changes)
    assert words in str(info.value)
    assert info.value.param == next(iter(changes)) if len(changes) == 1 else True


def test_nested_errors_name_the_yaml_key():
    with pytest.raises(InputError, match=r"psf.z_range_nm must be LOW, HIGH"):
        Psf(z_range_nm=(3, 1))
    with pytest.raises(InputError, match=r"^p.yaml: psf.sigma_nm must be a positive"):
        Example.from_mapping({"psf": {"sigma_nm": -1}}, source="p.yaml")


def test_coercion_int_to_float_and_list_to_tuple():
    s = Example(lr=1, psf=Psf(z_range_nm=[-1, 1]))
    assert s.lr == 1.0 and isinstance(s.lr, float)
    assert s.psf.z_range_nm == (-1.0, 1.0)
    hash(s)  # stays hashable


def test_mapping_round_trip_and_diff():
    s = Example.from_mapping({"epochs": 3, "psf": {"sigma_nm": 100}})
    assert s == Example(epochs=3, psf=Psf(sigma_nm=100.0))
    data = s.to_mapping()
    assert data["psf"] == {"sigma_nm": 100.0, "z_range_nm": [-500.0, 500.0]}
    assert Example.from_mapping(data) == s
    assert s.diff(Example()) == ["epochs", "psf.sigma_nm"]
    assert s.diff(data) == []
    assert s.replace(epochs=4).epochs == 4
    with pytest.raises(InputError, match="--epochs must be at least 1"):
        s.replace(epochs=0)


def test_unknown_keys_are_all_named_with_a_suggestion():
    with pytest.raises(InputError) as info:
        Example.from_mapping({"epoch": 3, "psf": {"sigma": 1}}, source="p.yaml")
    text = str(info.value)
    assert text.startswith("p.yaml: unknown parameter(s) epoch, psf.sigma")
    assert "did you mean 'epochs'" in text


def test_help_and_flags_come_from_the_fields():
    assert option_help(Example, "epochs") == "Last epoch [50]."
    assert option_help(Example, "target_sigma_px") == "Target blur, target px [1]."
    assert option_help(Example, "budget") == " [the machine's]."
    assert option_help(Example, "augment") == "Flips and turns [yes]."
    assert option_help(Psf, "z_range_nm") == "Axial range, nm [-500:500]."
    assert flag_of(Example, "target_sigma_px") == "--target-sigma"
    assert flag_of(Psf, "sigma_nm") == "psf.sigma_nm"
    assert default_of(Example, "psf") == Psf()


def test_input_error_renders_another_flag():
    error = InputError("{flag} must be at least 1, got 0", param="tile_px",
                       hint="raise {flag}")
    assert str(error) == "--tile-px must be at least 1, got 0; raise --tile-px"
    assert error.render("--tile") == "--tile must be at least 1, got 0; raise --tile"
