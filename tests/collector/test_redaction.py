"""Redaction at ingest: a labelled set written for the purpose (with hard negatives), JSON validity, per-span
counts, configuration errors and hostile input."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from collector.redaction import CustomRule, RedactionConfig, Redactor, redact_log_row, redact_row
from store.rows import LogRow, SpanRow

REDACTOR = Redactor(RedactionConfig())

# (text, expected counts per rule): each positive says which secret it hides, each negative why it is not one.
POSITIVES = [
    ("Please send the invoice to jane.doe+billing@example.co.uk by Friday.", {"email": 1}),
    ("CC: ops-team@acme-corp.io, and r.oneil@mail.example.org", {"email": 2}),
    ("My cell is +1 (415) 555-2671, office +44 20 7946 0958.", {"phone": 2}),
    ("Ring the London desk on 020 7946 0958 or Paris on +33 1 23 45 67 89", {"phone": 2}),
    ("US support line: 415-555-2671; fax (212) 555.0147", {"phone": 2}),
    ("Berlin: +49 30 12345678, mobile 06 12 34 56 78, E.164 +14155552671", {"phone": 3}),
    ("Toll free 1-800-555-0199 any time", {"phone": 1}),
    ("charge card 4111 1111 1111 1111 exp 09/27", {"card": 1}),
    ("Mastercard 5500-0000-0000-0004, Amex 378282246310005, Discover 6011111111111117", {"card": 3}),
    ("Wire to IBAN DE89 3704 0044 0532 0130 00 please", {"iban": 1}),
    ("GB29NWBK60161331926819 and FR14 2004 1010 0505 0001 3M02 606 and NL91ABNA0417164300", {"iban": 3}),
    ("Belgian account BE68539007547034 THEN the amount", {"iban": 1}),
    ("export OPENAI_API_KEY=sk-proj-Xk29fLm3Qp8vTz1Rw7Yb4Nc6Hd0Js5Ga2Ue", {"secret": 1}),
    ("anthropic key sk-ant-api03-Zq8vLm2Nx4Tb7Rc1Wd5Yf9Hk3Jp6Gs0Ae-Bt2Uv", {"secret": 1}),
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE and session ASIAY34FZKBOKMUTVV7A", {"secret": 2}),
    ("push with ghp_16C7e42F292c6912E7710c838347Ae178B4a, gho_16C7e42F292c6912E7710c838347Ae178B4a", {"secret": 2}),
    ("token github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGH", {"secret": 1}),
    ("slack bot xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", {"secret": 1}),
    ("stripe sk_live_51HxYzAbCdEfGhIjKlMnOp and rk_live_51HxYzAbCdEfGhIjKl", {"secret": 2}),
    ("maps key AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", {"secret": 1}),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", {"secret": 1}),
    ("curl -H 'Authorization: Bearer 7f3kQ9xZ2mW8pL4vN6tR1yB5'", {"secret": 1}),
    ("login with password=hunter2x and DB_PASSWORD: Sup3r-S3cret", {"secret": 2}),
    ('config {"api_key": "abcd1234efgh5678", "client_secret": "9f8e7d6c5b4a"}', {"secret": 2}),
    ("DATABASE_URL=postgres://app:Xy7_pQ2z@db.internal:5432/orders", {"secret": 1}),
    ("aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8v3Lm2Np", {"entropy": 1}),
    ("session cookie q8Z3vLx0PmT7rN2wYbK5sJ9dF4hG6cA1 expired", {"entropy": 1}),
]
NEGATIVES = [
    "Thanks @alice and @bob.smith, see the @support channel",  # mentions have no local part
    "Use icon@2x.png for retina and logo@3x.webp",  # asset names, not addresses
    "Run npm i react@18.2.0 and pin lodash@4.17.21",  # package versions
    "Order #1234567890 shipped on 2024-01-15 10:30:45, tracking 1Z999AA10123456784",  # order ids, timestamps
    "Dates 15/01/2024 and 2024.01.15, build v10.0.19041.1, version 2.3.14",  # dates, versions
    "Server 192.168.1.100 and 10.0.0.1 answered in 1718000000 epoch seconds",  # IPs, a unix timestamp
    "ISBN 978-3-16-148410-0, ticket 100-200-3000, invoice total 1,234,567.89",  # not phones
    "Card 4111 1111 1111 1112 was rejected (bad checksum)",  # Luhn-invalid
    "Internal id 1234567812345670 and ms timestamp 1718000000000",  # Luhn-valid but no card issuer starts with 1
    "IBAN DE89 3704 0044 0532 0130 01 fails its checksum, XX12 3456 7890 1234 5678 is no country",
    "We use sk-learn and a task-scheduler-for-background-jobs; sklearn is fine",
    "The bearer of bad news arrived. Bearer authentication is described below.",
    "password: null, token: ********, api_key=${OPENAI_API_KEY}, secret: {{vault_secret}}",
    'usage {"max_tokens": 1024, "prompt_tokens": 87, "total_tokens": 1111}',
    "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",  # W3C trace and span ids
    "request 123e4567-e89b-12d3-a456-426614174000 finished",  # a UUID
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 in the log",  # a digest
    "commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it",  # a git SHA
    "class getUserProfileByIdV2Handler extends Base64EncodedStringExample1",  # identifiers that look random-ish
    "pod kubernetes-node-pool-7f9c8d6b5-xk2lp at src/components/UserProfile2/index.tsx",
    "model claude-3-5-sonnet-20241022 vs Qwen2.5-72B-Instruct-AWQ vs gpt-4o-mini-2024-07-18",
    "The quarterly report shows revenue grew 12% to $4.2M in Q3 2024, driven by 1,250 new accounts.",
]


@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_redacts_labelled_positives(text: str, expected: dict[str, int]) -> None:
    out, counts = REDACTOR.redact(text)
    assert counts == expected, out
    for kind, n in expected.items():
        assert out.count(f"[REDACTED:{kind.upper()}]") == n


@pytest.mark.parametrize("text", NEGATIVES)
def test_leaves_hard_negatives_alone(text: str) -> None:
    assert REDACTOR.redact(text) == (text, {})


def test_placeholders_keep_the_surrounding_text() -> None:
    out, _ = REDACTOR.redact("Hi, I'm Dana (dana@example.com), card 4111-1111-1111-1111. Bearer xK9mQ2vL8pT4zR7w ok")
    assert out == "Hi, I'm Dana ([REDACTED:EMAIL]), card [REDACTED:CARD]. Bearer [REDACTED:SECRET] ok"


def test_pem_private_key_block_plain_and_json_escaped() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n" \
          "aNMRwJw9gnQ2o6dEVBqzB7aCsGXhYy5vR2aX9lZ8ZqI=\n-----END RSA PRIVATE KEY-----"
    out, counts = REDACTOR.redact(f"key:\n{pem}\nthanks")
    assert out == "key:\n[REDACTED:SECRET]\nthanks" and counts == {"secret": 1}
    doc = json.dumps({"role": "user", "content": f"here is my key {pem} ok?"})
    out, counts = REDACTOR.redact(doc)
    assert json.loads(out)["content"] == "here is my key [REDACTED:SECRET] ok?"


def test_json_stays_valid_and_loses_the_pii() -> None:
    doc = json.dumps([
        {"role": "system", "content": "You are the billing assistant of Acme."},
        {"role": "user", "content": "Email:\nbob@example.com\tPhone:\n+44 20 7946 0958\nCard \"4111111111111111\""},
        {"role": "assistant", "content": "Caf\u00e9 user noted", "tool_calls": [
            {"name": "charge", "arguments": json.dumps({"card": "5500 0000 0000 0004", "password": "hunter2x"})}]},
        {"n": 4111111111111111, "ok": True, "iban": "DE89370400440532013000"},
    ])
    out, counts = REDACTOR.redact(doc)
    parsed = json.loads(out)  # still JSON
    assert counts == {"email": 1, "phone": 1, "card": 3, "iban": 1, "secret": 1}
    assert parsed[1]["content"] == 'Email:\n[REDACTED:EMAIL]\tPhone:\n[REDACTED:PHONE]\nCard "[REDACTED:CARD]"'
    arguments = json.loads(parsed[2]["tool_calls"][0]["arguments"])
    assert arguments == {"card": "[REDACTED:CARD]", "password": "[REDACTED:SECRET]"}
    assert parsed[3] == {"n": "[REDACTED:CARD]", "ok": True, "iban": "[REDACTED:IBAN]"}  # a bare number got quoted


def test_a_match_never_starts_inside_a_json_escape() -> None:
    token = "q8Z3vLx0PmT7rN2wYbK5sJ9dF4hG6cA1"
    doc = json.dumps({"a": f"\u00e9{token}", "b": f"line\n{token}", "c": "tab\tjane@example.com"}, ensure_ascii=True)
    out, counts = REDACTOR.redact(doc)
    assert json.loads(out) == {"a": "é[REDACTED:ENTROPY]", "b": "line\n[REDACTED:ENTROPY]",
                               "c": "tab\t[REDACTED:EMAIL]"}
    assert counts == {"entropy": 2, "email": 1}


PII = ["bob@example.com", "+44 20 7946 0958", "4111111111111111", "DE89370400440532013000", "password=hunter2x",
       "Bearer 7f3kQ9xZ2mW8pL4vN6tR1yB5", "sk-proj-Xk29fLm3Qp8vTz1Rw7Yb4Nc6", "q8Z3vLx0PmT7rN2wYbK5sJ9dF4hG6cA1"]
PIECES = [*PII, "a", "b", " ", '"', "\\", "\n", "\t", "/", ":", "=", "@", ".", "-", "0", "7", "é", "\u2028", "€", "{"]


def _random_json(rng: random.Random, depth: int = 0) -> object:
    roll = rng.random()
    if depth >= 3 or roll < 0.4:
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6)))
        return rng.choice([None, True, 4111111111111111, rng.randint(-10**18, 10**18), 0.5, text, text, text])
    if roll < 0.7:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {"".join(rng.choices(PIECES, k=2)): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def test_redacted_json_is_always_valid_json() -> None:
    rng = random.Random(20240611)  # a fixed seed: the same 600 documents every run
    for i in range(600):
        doc = json.dumps([_random_json(rng)] if i % 2 else {"v": _random_json(rng)}, ensure_ascii=i % 3 == 0)
        out, _ = REDACTOR.redact(doc)
        json.loads(out)  # raises on invalid JSON


def test_redact_row_covers_every_free_text_field_and_adds_counts() -> None:
    row = SpanRow(
        name="lookup bob@example.com",
        status_message="declined card 4111111111111111",
        session_id="sess-42",
        user_id="carol@example.com",
        tags=["vip", "owner:dave@example.com"],
        input=json.dumps([{"role": "user", "content": "my IBAN is GB29NWBK60161331926819"}]),
        output=json.dumps([{"role": "assistant", "content": "call +1 (415) 555-2671"}]),
        documents=json.dumps([{"id": "d1", "content": "contact eve@example.org"}]),
        tool_calls=json.dumps([{"name": "login", "arguments": '{"password": "hunter2x"}'}]),
        prompt_template="Reply to {{email}}", prompt_variables=json.dumps({"email": "frank@example.com"}),
        events=json.dumps([{"name": "log", "attributes": {"msg": "token=Zq8vLm2Nx4Tb7Rc1"}}]),
        metadata={"customer_email": "gina@example.com"},
        attributes={"http.request.header.authorization": "Bearer 7f3kQ9xZ2mW8pL4vN6tR1yB5", "llm.model": "gpt-4o"},
        resource_attributes={"process.command_line": "app --api-key=sk-proj-Xk29fLm3Qp8vTz1Rw7Yb4Nc6"},
        redactions={"email": 1},  # already counted by an earlier stage
    )
    redact_row(REDACTOR, row)
    assert row.redactions == {"email": 1 + 5, "card": 1, "iban": 1, "phone": 1, "secret": 4}
    assert row.user_id == "carol@example.com" and row.session_id == "sess-42"  # ids stay: deletion by user needs them
    assert row.tags == ["vip", "owner:[REDACTED:EMAIL]"]
    assert row.attributes == {"http.request.header.authorization": "Bearer [REDACTED:SECRET]", "llm.model": "gpt-4o"}
    assert "frank" not in row.prompt_variables and json.loads(row.prompt_variables) == {"email": "[REDACTED:EMAIL]"}
    assert json.loads(row.tool_calls)[0]["arguments"] == '{"password": "[REDACTED:SECRET]"}'
    for text in (row.input, row.output, row.documents, row.events):
        json.loads(text)


def test_redact_log_row() -> None:
    row = LogRow(time=datetime(2025, 1, 1, tzinfo=UTC), body=json.dumps({"content": "I am jane@example.com"}),
                 attributes={"user.phone": "+44 20 7946 0958", "event.name": "gen_ai.user.message"})
    redact_log_row(REDACTOR, row)
    assert json.loads(row.body) == {"content": "I am [REDACTED:EMAIL]"}
    assert row.attributes == {"user.phone": "[REDACTED:PHONE]", "event.name": "gen_ai.user.message"}
    assert row.redactions == {"email": 1, "phone": 1}


def test_rules_can_be_chosen_disabled_and_extended() -> None:
    text = "emp E-204-7781 mailed jane@example.com from +44 20 7946 0958"
    only_email = Redactor(RedactionConfig(rules=["email"]))
    assert only_email.redact(text) == ("emp E-204-7781 mailed [REDACTED:EMAIL] from +44 20 7946 0958", {"email": 1})
    custom = Redactor(RedactionConfig(custom=[CustomRule(name="employee_id", pattern=r"\bE-\d{3}-\d{4}\b")]))
    out, counts = custom.redact(text)
    assert out == "emp [REDACTED:EMPLOYEE_ID] mailed [REDACTED:EMAIL] from [REDACTED:PHONE]"
    assert counts == {"employee_id": 1, "email": 1, "phone": 1}
    off = Redactor(RedactionConfig(enabled=False))
    row = SpanRow(input="jane@example.com")
    redact_row(off, row)
    assert off.redact(text) == (text, {}) and row.input == "jane@example.com" and row.redactions == {}


def test_configuration_errors_are_clear() -> None:
    with pytest.raises(ValidationError, match="not a valid regex"):
        RedactionConfig(custom=[{"name": "order", "pattern": "ORD-(\\d+"}])
    with pytest.raises(ValidationError, match="matches the empty string"):
        RedactionConfig(custom=[{"name": "order", "pattern": "\\d*"}])
    with pytest.raises(ValidationError, match="'secret', 'email'"):
        RedactionConfig(rules=["email", "ssn"])
    with pytest.raises(ValidationError):
        CustomRule(name='bad"name', pattern="x")  # the name goes into the placeholder
    with pytest.raises(ValidationError):
        CustomRule(name="email", pattern="x")  # built-in names and counts stay the built-ins' own


def test_custom_match_that_would_break_json_is_skipped() -> None:
    greedy = Redactor(RedactionConfig(rules=[], custom=[CustomRule(name="quoted", pattern=r'secret": "\w+')]))
    doc = json.dumps({"secret": "abc"})
    assert greedy.redact(doc) == (doc, {})


HOSTILE = [  # 2 MB where a regex could go quadratic, 0.5 MB where every position costs a regex attempt
    "a@" * 1_000_000,  # a million '@' and no address
    "A" * 2_000_000,  # one 2 MB token
    "x:" * 1_000_000,  # a million separators after non-keys
    "-----BEGIN RSA PRIVATE KEY-----" + "MIIE" * 500_000,  # an unterminated key block
    "1 " * 250_000,  # one endless run of digits and separators
    "+1 (" * 125_000,  # phone prefixes that never finish
    "password=" * 50_000,  # keys whose values run into the next key
    "4111 1111 1111 1111, " * 25_000,  # twenty-five thousand cards
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text", HOSTILE, ids=["at", "token", "colons", "pem", "digits", "phone", "keys", "cards"])
def test_hostile_megabytes_finish_and_stay_correct(text: str) -> None:
    out, counts = REDACTOR.redact(text)
    if text.startswith("4111"):
        assert counts == {"card": 25_000} and "4111" not in out
    elif text.startswith("-----BEGIN"):
        assert out == "[REDACTED:SECRET]" + "MIIE" * (500_000 - 5000) and counts == {"secret": 1}
    elif text.startswith("password="):
        assert "[REDACTED:SECRET]" in out and "password=password" not in out
    else:
        assert (out, counts) == (text, {})


@pytest.mark.parametrize("token", [
    "npm_abcdefghijklmnopqrstuvwxyz0123456789",
    "glpat-abcdefghij1234567890xyz",
    "SG.abcdefghijklmnop1234.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "whsec_abcdefghijklmnopqrstuvwxyz012345",
])
def test_more_vendor_key_formats(token: str) -> None:
    text, counts = Redactor(RedactionConfig()).redact(f"deploy with {token} today")
    assert text == "deploy with [REDACTED:SECRET] today" and counts == {"secret": 1}


def test_find_reports_without_replacing() -> None:
    redactor = Redactor(RedactionConfig())
    text = "mail bob@example.com or call +44 20 7946 0958"
    found = redactor.find(text)
    assert [(rule, text[s:e]) for rule, s, e in found] == [("email", "bob@example.com"), ("phone", "+44 20 7946 0958")]
