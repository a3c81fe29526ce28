"""One place for option checks: NumPy scalars and 0-d arrays are numbers everywhere (methods,
scaler files, LRN), bools and strings never are, and every refusal is a UsageError that is
also a ValueError and names the parameter, the value and what it must be."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import normcli
from normcli.errors import DataError, ExitCode, OptionError, UsageError
from normcli.validate import as_bool, as_finite_float, as_int, as_pair, first_line

from inprocess import invoke

DF = pd.DataFrame({"x": [1.0, 2.0, 4.0, 8.0], "y": [3.0, 1.0, 2.0, 5.0]})


def fitted(scaler: normcli.Scaler) -> dict[str, dict[str, float]]:
    return {c.name: c.fitted for c in scaler.columns}


@pytest.mark.parametrize("ddof", [np.int64(1), np.array(1), np.uint8(1), 1.0])
def test_ddof_may_be_any_kind_of_whole_number(ddof):
    assert fitted(normcli.fit(DF, "zscore", ddof=ddof)) == fitted(normcli.fit(DF, "zscore", ddof=1))
    assert normcli.fit(DF, "zscore", ddof=ddof)["x"].options["ddof"] == 1
    assert type(normcli.fit(DF, "zscore", ddof=ddof)["x"].options["ddof"]) is int  # stored as JSON's int


@pytest.mark.parametrize("rng", [np.array([0, 2]), (np.float32(0), np.array(2.0)), [np.int64(0), 2]])
def test_range_may_be_an_array_or_numpy_numbers(rng):
    scaler = normcli.fit(DF, "minmax", range=rng)
    assert scaler["x"].options["range"] == [0.0, 2.0]
    assert scaler.transform(DF)["x"].tolist() == [0.0, 2 / 7, 6 / 7, 2.0]


def test_log_options_and_flags_take_numpy_scalars():
    scaler = normcli.fit(DF, "log", base=np.array(2.0), offset=np.float32(1), normalize=np.bool_(True))
    assert scaler["x"].options == {"invalid": "error", "base": 2.0, "offset": 1.0, "normalize": True}
    assert normcli.fit(DF, "minmax", clip=np.array(True))["x"].options["clip"] is True


@pytest.mark.parametrize("size", [np.int64(3), np.array(3), 3.0])
def test_lrn_size_may_be_any_kind_of_whole_number(size):
    x = np.random.default_rng(0).random((2, 6, 3, 3)).astype(np.float32)
    np.testing.assert_array_equal(normcli.lrn(x, size=size), normcli.lrn(x, size=3))


@pytest.mark.parametrize(
    ("method", "options", "parameter", "value"),
    [
        ("zscore", {"ddof": True}, "ddof", True),
        ("zscore", {"ddof": 1.5}, "ddof", 1.5),
        ("zscore", {"ddof": np.int64(-1)}, "ddof", np.int64(-1)),
        ("minmax", {"clip": "yes"}, "clip", "yes"),
        ("minmax", {"clip": 1}, "clip", 1),
        ("minmax", {"range": [0, "1"]}, "range", [0, "1"]),
        ("log", {"base": np.nan}, "base", np.nan),
        ("log", {"offset": "1"}, "offset", "1"),
    ],
)
def test_refused_values_name_the_parameter_and_the_value(method, options, parameter, value):
    with pytest.raises(OptionError) as caught:
        normcli.fit(DF, method, **options)
    assert isinstance(caught.value, UsageError) and isinstance(caught.value, ValueError)
    assert parameter in caught.value.parameter
    assert repr(caught.value.value) == repr(value)
    assert str(caught.value).startswith(caught.value.parameter)


def test_data_and_usage_errors_are_value_errors():
    with pytest.raises(ValueError):
        normcli.fit(DF, "rank")
    with pytest.raises(ValueError):
        normcli.fit({"x": np.array([np.nan, np.nan])}, "zscore")
    assert issubclass(DataError, ValueError) and issubclass(UsageError, ValueError)


def test_exit_codes_are_one_enum(tmp_path):
    assert invoke("fit", tmp_path / "nope.csv", "-m", "zscore").code == ExitCode.DATA == 1
    assert invoke("fit", tmp_path / "nope.csv", "-m", "rank").code == ExitCode.USAGE == 2
    assert invoke("--version").code == ExitCode.OK == 0
    assert (ExitCode.INTERRUPTED, ExitCode.TERMINATED) == (130, 143)


integer_kinds = st.sampled_from([int, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32])


@given(n=st.integers(0, 127), kind=integer_kinds, zero_d=st.booleans())
def test_as_int_takes_every_integer_kind(n, kind, zero_d):
    value = np.array(kind(n)) if zero_d else kind(n)
    assert as_int("n", value) == n and type(as_int("n", value)) is int


@given(x=st.floats(allow_nan=False, allow_infinity=False), zero_d=st.booleans())
def test_as_finite_float_takes_every_finite_float(x, zero_d):
    assert as_finite_float("x", np.array(x) if zero_d else np.float64(x)) == x


def test_the_small_checks():
    assert as_bool("clip", np.bool_(False)) is False
    assert as_pair("range", np.array([1, 2])) == (1.0, 2.0)
    with pytest.raises(OptionError, match=r"^big must be finite, not 1000"):
        as_finite_float("big", 10**400)
    with pytest.raises(OptionError, match=r"^n must be a whole number >= 0, not -2$"):
        as_int("n", -2, minimum=0)
    with pytest.raises(OptionError, match=r"^range needs two numbers LO HI"):
        as_pair("range", np.array([[0, 1]]))
    assert first_line(ValueError("one\ntwo")) == "one"
    assert first_line(KeyError()) == "KeyError"


# --- the core names parameters, the command line names flags ------------------------------------------


def test_the_python_api_names_keyword_arguments_and_the_cli_names_flags(tmp_path):
    x = np.ones((1, 3, 2, 2), dtype=np.float32)
    with pytest.raises(UsageError) as caught:
        normcli.lrn(x, size=3, channel_axis=7)
    assert str(caught.value) == "channel_axis 7 is out of range for a 4-D array (use -4..3)"
    np.save(tmp_path / "a.npy", x)
    r = invoke("lrn", tmp_path / "a.npy", "--size", "3", "--channel-axis", "7")
    assert (r.code, r.err) == (2, "error: --channel-axis 7 is out of range for a 4-D array (use -4..3)\n")


def test_a_data_error_hint_names_the_option_the_way_its_reader_calls_it(tmp_path):
    with pytest.raises(DataError) as caught:
        normcli.fit({"t": np.array([-1.0, 2.0])}, "log")
    assert "(use offset, invalid nan or another method)" in str(caught.value) and "--" not in str(caught.value)
    (tmp_path / "t.csv").write_text("t\n-1\n2\n")
    r = invoke("fit", tmp_path / "t.csv", "-m", "log")
    assert r.code == 1 and "(use --log-offset, --invalid nan or another method)" in r.err, r.err
