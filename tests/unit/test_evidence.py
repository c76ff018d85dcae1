"""The evidence chain: what a record's hash covers, and what verification catches."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from irbot.domain.evidence import GENESIS, EvidenceRecord, link, text_digest, verify_chain

START = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
AWKWARD = ["", "plain", 'quote " and \\ backslash', "line\nbreak\ttab\x00nul\x1f", "café ünïcödé", "🔥 emoji",
           "\u2028 separators \u2029", "</script>"]


def reference_canonical(record: EvidenceRecord) -> bytes:
    """The definition, spelled out with json.dumps: chains stored by earlier versions hash to this."""
    utc = record.at.astimezone(timezone.utc).isoformat(timespec="microseconds")
    body = {"seq": record.seq, "at": utc, "kind": record.kind, "actor": record.actor,
            "text_sha256": record.text_sha256, "data": record.data, "key": record.dedupe_key}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def chain(texts: list[str], datas: list[dict[str, Any]] | None = None) -> list[EvidenceRecord]:
    """Records chained as repo.add_event chains them."""
    records, prev = [], GENESIS
    for seq, text in enumerate(texts, start=1):
        record = EvidenceRecord(seq=seq, at=START + timedelta(seconds=seq, microseconds=seq * 7), kind="message",
                                actor=f"U0PERSON{seq}" if seq % 3 else None, text=text,
                                text_sha256=text_digest(text),
                                data=(datas or [{}] * len(texts))[seq - 1], dedupe_key=f"msg:{seq}" if seq % 2 else None,
                                prev_hash=prev, hash="")
        prev = link(prev, record)
        records.append(dataclasses.replace(record, hash=prev))
    return records


@pytest.mark.parametrize("text", AWKWARD)
def test_canonical_form_is_sorted_compact_json(text: str) -> None:
    data = {"z": [1, 2.5, -0.0, 1e100, True, None], "a": {"y": text, "b": {"nested": [text, {}]}}, text: 3,
            "ts": "1717171717.000100"}
    record = EvidenceRecord(seq=12, at=START.astimezone(timezone(timedelta(hours=-5))), kind=text or "message",
                            actor=text or None, text=text, text_sha256=text_digest(text), data=data,
                            dedupe_key=text or None, prev_hash=GENESIS, hash="")
    assert record.canonical() == reference_canonical(record)


def test_an_untouched_chain_verifies_to_its_head() -> None:
    records = chain(AWKWARD, datas=[{"i": i, "files": [f"F{i}"]} for i in range(len(AWKWARD))])
    verdict = verify_chain(records)
    assert verdict.ok and verdict.count == len(AWKWARD) and verdict.head == records[-1].hash


def test_dropping_a_deleted_messages_text_keeps_the_chain_valid() -> None:
    records = chain(["keep", "a pasted secret", "keep too"])
    records[1] = dataclasses.replace(records[1], text="")
    assert verify_chain(records).ok


@pytest.mark.parametrize("change, reason", [
    ({"text": "rewritten"}, "its text was changed"),
    ({"text_sha256": text_digest("rewritten"), "text": "rewritten"}, "its hash does not match its contents"),
    ({"at": START}, "its hash does not match its contents"),
    ({"actor": "U0SOMEONE"}, "its hash does not match its contents"),
    ({"kind": "note"}, "its hash does not match its contents"),
    ({"data": {"edited": True}}, "its hash does not match its contents"),
    ({"dedupe_key": "other"}, "its hash does not match its contents"),
    ({"prev_hash": GENESIS}, "its hash does not match its contents"),
    ({"hash": GENESIS}, "its hash does not match its contents"),
])
def test_any_change_to_a_stored_record_is_named(change: dict[str, Any], reason: str) -> None:
    records = chain([f"message {n}" for n in range(1, 7)])
    records[3] = dataclasses.replace(records[3], **change)
    verdict = verify_chain(records)
    assert not verdict.ok and verdict.bad_seq == 4 and verdict.count == 3 and verdict.reason == reason
    assert verdict.head == records[2].hash


def test_a_missing_or_reordered_record_is_named() -> None:
    records = chain([f"message {n}" for n in range(1, 6)])
    missing = verify_chain(records[:2] + records[3:])
    assert not missing.ok and missing.bad_seq == 3 and missing.reason == "record 3 is missing"
    swapped = verify_chain([records[0], records[2], records[1], *records[3:]])
    assert not swapped.ok and swapped.bad_seq == 2
