"""Policy files: each kind of mistake gives one message naming the file, line, key and rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.errors import UsageError
from worker.policy import DEFAULT_POLICY, PolicyFileError, Reason, load_policy, parse_policy
from worker.policy.loader import key_lines

REPO = Path(__file__).resolve().parents[2]

BAD_FILES = [
    pytest.param(
        "[returns]\nwindow_days = -3\n",
        "returns.window_days must be ≥ 0, got -3 (policy.toml line 2)",
        id="negative window",
    ),
    pytest.param(
        '[store]\nname = "x"\n\n[returns]\n# comment\nwindow_days = "ten"\n',
        'returns.window_days must be a whole number, got "ten" (policy.toml line 6)',
        id="wrong type: text for a number",
    ),
    pytest.param(
        "[returns]\nwindow_days = 1.5\n",
        "returns.window_days must be a whole number, got 1.5 (policy.toml line 2)",
        id="wrong type: fraction for days",
    ),
    pytest.param(
        '[cancellation]\nallowed = "yes"\n',
        'cancellation.allowed must be true or false, got "yes" (policy.toml line 2)',
        id="wrong type: text for a flag",
    ),
    pytest.param(
        "[cancellation]\nwindow_hours = true\n",
        "cancellation.window_hours must be a whole number, got true (policy.toml line 2)",
        id="wrong type: flag for a number",
    ),
    pytest.param(
        "[returns]\nwindowdays = 3\n",
        "unknown key returns.windowdays: [returns] accepts window_days,",
        id="unknown key",
    ),
    pytest.param(
        "colour = 1\n",
        "unknown key colour: the top level accepts store, cancellation, returns",
        id="unknown top-level key",
    ),
    pytest.param(
        "[returns.reasons.chnaged_mind]\naccepted = true\n",
        'unknown reason "chnaged_mind" in [returns.reasons] (reasons: not_as_described,',
        id="unknown reason table",
    ),
    pytest.param(
        '[returns]\nfinal_sale_except = ["damaged", "broken"]\n',
        'returns.final_sale_except[1]: unknown reason "broken" (reasons: not_as_described,',
        id="unknown reason in a list",
    ),
    pytest.param(
        '[suppliers."Acme Store"]\nrefund_reasons = ["lost"]\n',
        'suppliers."Acme Store".refund_reasons[0]: unknown reason "lost"',
        id="unknown reason in supplier terms",
    ),
    pytest.param(
        '[returns.reasons.damaged]\nevidence = ["photos", "selfie"]\n',
        'returns.reasons.damaged.evidence[1] must be one of photos, video, tracking, correspondence, got "selfie" '
        "(policy.toml line 2)",
        id="unknown evidence",
    ),
    pytest.param(
        '[returns.reasons.damaged]\naccepted = "maybe"\n',
        'returns.reasons.damaged.accepted must be true, false or "escalate", got "maybe" (policy.toml line 2)',
        id="accepted takes a flag or escalate",
    ),
    pytest.param(
        "[returns.reasons.wrong_size]\nrestocking_fee_percent = 120\n",
        "returns.reasons.wrong_size.restocking_fee_percent must be ≤ 100, got 120 (policy.toml line 2)",
        id="percent above 100",
    ),
    pytest.param(
        '[cancellation]\nuntil = "tomorrow"\n',
        'cancellation.until must be one of before_supplier_payment, before_shipment, never, got "tomorrow"',
        id="unknown choice",
    ),
    pytest.param(
        '[store]\ncurrency = "ABC"\n',
        "store.currency: must be an ISO 4217 currency code, got 'ABC' (policy.toml line 2)",
        id="unknown currency",
    ),
    pytest.param(
        "[exchange_rates.USD]\nEUR = 0\n",
        "exchange_rates.USD.EUR must be > 0, got 0 (policy.toml line 2)",
        id="zero exchange rate",
    ),
    pytest.param(
        "[returns]\nreasons = 3\n",
        "returns.reasons must be a table, got 3 (policy.toml line 2)",
        id="scalar for a table",
    ),
    pytest.param(
        "[returns]\nwindow_days = 15\nwindow_days = 16\n",
        "invalid TOML: cannot overwrite a value (policy.toml line 3, column 17)",
        id="invalid TOML: duplicate key",
    ),
    pytest.param(
        "[returns\nwindow_days = 1\n",
        "invalid TOML: ",
        id="invalid TOML: broken header",
    ),
    pytest.param(
        "[returns]\nwindow_days =\n",
        "invalid TOML: invalid value (policy.toml line 2, column 14)",
        id="invalid TOML: missing value",
    ),
    pytest.param(
        "[returns]\nall_sales_final = true\n\n[returns.reasons.changed_mind]\naccepted = true\n",
        "returns.reasons.changed_mind.accepted is true, but returns.all_sales_final makes every sale final except "
        "not_as_described, damaged, defective, wrong_item, not_received: add 'changed_mind' to "
        "returns.final_sale_except or remove this line (policy.toml line 5)",
        id="contradiction: all sales final yet accepted",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_a_bad_file_gives_one_clear_message_naming_the_place(text: str, expected: str) -> None:
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(text, source="policy.toml")
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert "policy.toml" in message
    assert "Traceback" not in message
    assert "pydantic" not in message


def test_the_first_problem_in_file_order_is_reported_with_a_count_of_the_rest() -> None:
    text = "[store]\ntypical_order_value = -1\n\n[returns]\nwindow_days = -3\nrefund_percent = 500\n"
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(text, source="p.toml")
    assert (
        str(caught.value) == "store.typical_order_value must be ≥ 0, got -1 (p.toml line 2); 2 more problems after it"
    )


def test_errors_are_usage_errors_so_the_cli_exits_2() -> None:
    assert issubclass(PolicyFileError, UsageError)
    assert PolicyFileError.exit_code == 2


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match=r"policy file .*nope\.toml does not exist"):
        load_policy(tmp_path / "nope.toml")


def test_a_binary_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "p.toml"
    file.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(PolicyFileError, match="is not UTF-8 text"):
        load_policy(file)


def test_none_means_the_built_in_default() -> None:
    assert load_policy(None) is DEFAULT_POLICY
    assert load_policy("") is DEFAULT_POLICY


def test_the_example_file_is_exactly_the_built_in_default() -> None:
    # The example documents the defaults: if a default changes, the example must change with it.
    example = load_policy(REPO / "policy.example.toml")
    assert example.version == DEFAULT_POLICY.version
    assert example.canonical_json() == DEFAULT_POLICY.canonical_json()


def test_version_ignores_comments_layout_order_and_number_spelling() -> None:
    one = parse_policy('[returns]\nwindow_days = 30\nrefund_percent = 50\nfinal_sale_skus = ["A", "B"]\n')
    two = parse_policy(
        '# my policy\n[returns]\nfinal_sale_skus = ["B", "A"]\nrefund_percent = 50.0\n\n  window_days=30 # a month\n'
    )
    assert one.version == two.version
    assert len(one.version) == 64
    assert int(one.version, 16) >= 0


def test_version_ignores_values_written_out_that_equal_the_inherited_ones() -> None:
    assert parse_policy("[returns.reasons.damaged]\nwindow_days = 15\n").version == DEFAULT_POLICY.version


def test_version_changes_with_any_value() -> None:
    versions = {
        DEFAULT_POLICY.version,
        parse_policy("[returns]\nwindow_days = 16\n").version,
        parse_policy("[returns.reasons.damaged]\nwindow_days = 16\n").version,
        parse_policy("[suppliers.default]\nhandling_days = 8\n").version,
        parse_policy('[suppliers."Acme"]\nhandling_days = 8\n').version,
        parse_policy("[cancellation]\nnotify_customer = false\n").version,
    }
    assert len(versions) == 6


def test_reason_tables_override_the_built_in_rule_key_by_key() -> None:
    policy = parse_policy("[returns.reasons.damaged]\nwindow_days = 30\n")
    rule = policy.rule(Reason.DAMAGED)
    assert rule.window_days == 30
    assert rule.accepted is True  # kept from the built-in rule
    assert [e.value for e in rule.evidence] == ["photos"]


def test_supplier_terms_override_the_default_key_by_key_and_match_names_case_insensitively() -> None:
    policy = parse_policy(
        '[suppliers.default]\nhandling_days = 5\n\n[suppliers."Acme Store"]\ncancel_before_shipment = false\n'
    )
    acme = policy.supplier_terms("acme store")
    assert (acme.name, acme.cancel_before_shipment, acme.handling_days) == ("Acme Store", False, 5)
    other = policy.supplier_terms("Someone Else")
    assert (other.name, other.cancel_before_shipment, other.handling_days) == ("default", True, 5)


def test_exchange_rates_work_both_ways() -> None:
    policy = parse_policy("[exchange_rates.usd]\neur = 0.8\n")
    assert str(policy.exchange_rate("USD", "EUR")) == "0.8"
    assert policy.exchange_rate("EUR", "USD") == 1 / policy.exchange_rate("USD", "EUR")  # type: ignore[operator]
    assert policy.exchange_rate("USD", "JPY") is None
    assert policy.exchange_rate("JPY", "JPY") == 1


def test_key_lines_maps_tables_dotted_and_quoted_keys() -> None:
    text = '# top\na = 1\n[b]\nc.d = 2\n"e f" = """\ng = not a key\n"""\n[h.\'i j\']\nk = [\n  1,\n]\n'
    lines = key_lines(text)
    assert lines[("a",)] == 2
    assert lines[("b",)] == 3
    assert lines[("b", "c", "d")] == 4
    assert lines[("b", "e f")] == 5
    assert ("b", "g") not in lines
    assert lines[("h", "i j")] == 8
    assert lines[("h", "i j", "k")] == 9
