import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal

from copydetect.hashlists import (
    HashEntry,
    HashListFormat,
    LineProblem,
    SignalRejected,
    SignalType,
    hashlist_format_guess,
    hashlist_lines,
    hashlist_open,
    hashlist_read,
    signal_normalise,
    sscd_signal_of,
    sscd_vector_of,
)

PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ_B = "e64cc9d91c623882f8d1f1d9a398e78c9f199b3bd83924f2b7e11e0bf861b064"
MD5_A = "cab08b36195edb1a1231d2d09fa450e0"


def _read(text: str, format: HashListFormat, **options) -> list:
    return list(hashlist_read(io.StringIO(text, newline=""), format=format, **options))


def _entries(items) -> list[HashEntry]:
    return [item for item in items if isinstance(item, HashEntry)]


def _problems(items) -> dict[int, str]:
    return {item.line_number: item.reason for item in items if isinstance(item, LineProblem)}


# --- signals -------------------------------------------------------------------------------------


def test_signals_are_normalised_or_rejected_with_a_reason():
    assert signal_normalise(SignalType.PDQ, f"  {PDQ_A.upper()} ") == PDQ_A
    assert signal_normalise(SignalType.MD5, MD5_A.upper()) == MD5_A
    with pytest.raises(SignalRejected, match="64 hex digits, got 63"):
        signal_normalise(SignalType.PDQ, PDQ_A[:-1])
    with pytest.raises(SignalRejected, match="32 hex digits"):
        signal_normalise(SignalType.MD5, "z" * 32)
    with pytest.raises(SignalRejected, match="empty"):
        signal_normalise(SignalType.MD5, "  ")


def test_an_sscd_signal_is_a_json_array_that_reads_back_as_the_same_float32_vector():
    vector = np.random.default_rng(0).normal(size=512).astype(np.float32)
    vector /= np.linalg.norm(vector)
    text = sscd_signal_of(vector)
    assert text.startswith("[") and " " not in text
    assert np.array_equal(sscd_vector_of(text, dimensions=512), vector)
    assert signal_normalise(SignalType.SSCD, "[0.5, 0.25]") == "[0.5,0.25]"
    with pytest.raises(SignalRejected, match="512 values"):
        signal_normalise(SignalType.SSCD, "[0.5, 0.25]", sscd_dimensions=512)
    for bad in ("[]", "[1, NaN]", '["a"]', "{}", "[true]", "[1,"):
        with pytest.raises(SignalRejected):
            signal_normalise(SignalType.SSCD, bad)


# --- threatexchange's local file ------------------------------------------------------------------


def test_the_local_file_reads_typed_and_bare_lines_and_reports_each_bad_line():
    text = "\n".join(
        [
            f"pdq {PDQ_A}",
            PDQ_B.upper(),  # bare: by its shape
            f"video_md5 {MD5_A}",
            "",
            "# a comment",
            "pdq 1234",
            "tmk abcdef",
            "not-a-hash",
            "[0.1, 0.2, 0.3]",
            f"md5 {MD5_A}  ",
        ]
    )
    items = _read(text, HashListFormat.LOCAL_FILE)
    entries = _entries(items)
    assert [(e.line_number, e.signal_type, e.signal) for e in entries] == [
        (1, SignalType.PDQ, PDQ_A),
        (2, SignalType.PDQ, PDQ_B),
        (3, SignalType.MD5, MD5_A),
        (9, SignalType.SSCD, "[0.1,0.2,0.3]"),
        (10, SignalType.MD5, MD5_A),
    ]
    problems = _problems(items)
    assert set(problems) == {6, 7, 8}
    assert "64 hex digits, got 4" in problems[6]
    assert "unknown signal type 'tmk'" in problems[7]
    assert "bare signal" in problems[8]


def test_a_bare_line_takes_the_default_type_when_one_is_given():
    items = _read(f"{MD5_A}\n{PDQ_A}\n", HashListFormat.LOCAL_FILE, default_signal_type=SignalType.MD5)
    assert [e.signal for e in _entries(items)] == [MD5_A]
    assert "32 hex digits, got 64" in _problems(items)[2]


def test_threatexchanges_file_exchange_reads_our_export(tmp_path):
    entries = [
        HashEntry(signal_type=SignalType.PDQ, signal=PDQ_A),
        HashEntry(signal_type=SignalType.MD5, signal=MD5_A),
    ]
    path = tmp_path / "bank.txt"
    path.write_text("".join(hashlist_lines(entries, format=HashListFormat.LOCAL_FILE)))
    api = LocalFileSignalExchangeAPI.for_collab(FileCollaborationConfig(name="bank", filename=str(path)))
    fetched = {key for delta in api.fetch_iter([PdqSignal, VideoMD5Signal], None) for key in delta.updates}
    assert fetched == {("pdq", PDQ_A), ("video_md5", MD5_A)}


# --- the platform's CSV ---------------------------------------------------------------------------


def test_the_csv_reads_ids_and_tags_and_reports_bad_rows_with_their_line():
    text = (
        "signal_type,signal,external_id,tags\n"
        f"pdq,{PDQ_A},case-1,spam scam\n"
        f"md5,{MD5_A}\n"
        f'sscd,"[0.5, 0.25]",vec-1,"a,b,a"\n'
        f"PDQ,{PDQ_B},case-2,\n"
        "pdq,nothex,case-3,\n"
        f"pdq,{PDQ_A},id,tags,extra\n"
        "pdq\n"
        f"tmk,{PDQ_A},,\n"
        f"pdq,{PDQ_A},{'x' * 300},\n"
        f'pdq,{PDQ_A},"multi\nline id",\n'
        f"pdq,{PDQ_B},after-the-multiline-row,\n"
    )
    items = _read(text, HashListFormat.CSV)
    entries = _entries(items)
    assert [(e.line_number, e.signal_type, e.external_id, e.tags) for e in entries] == [
        (2, SignalType.PDQ, "case-1", ("spam", "scam")),
        (3, SignalType.MD5, "", ()),
        (4, SignalType.SSCD, "vec-1", ("a", "b")),
        (5, SignalType.PDQ, "case-2", ()),
        (13, SignalType.PDQ, "after-the-multiline-row", ()),
    ]
    problems = _problems(items)
    assert set(problems) == {6, 7, 8, 9, 10, 11}
    assert "hex digits" in problems[6]
    assert "5 columns" in problems[7]
    assert "expected signal_type,signal" in problems[8]
    assert "unknown signal type" in problems[9]
    assert "external id longer" in problems[10]
    assert "control character" in problems[11]


def test_the_csv_header_is_optional():
    assert [e.signal for e in _entries(_read(f"pdq,{PDQ_A}\n", HashListFormat.CSV))] == [PDQ_A]


def test_an_unterminated_quote_is_reported_and_reading_goes_on():
    rows = [f"pdq,{PDQ_A},ok,\n", 'pdq,"' + PDQ_B + "\n"] + [f"md5,{i:032x},,\n" for i in range(4000)]
    items = list(hashlist_read(iter(rows), format=HashListFormat.CSV))
    problems = [item for item in items if isinstance(item, LineProblem)]
    assert problems and problems[0].line_number == 2 and "unreadable CSV" in problems[0].reason
    assert _entries(items)[0].external_id == "ok"
    assert _entries(items)[-1].signal == f"{3999:032x}"  # rows after the swallowed ones are read again


def test_the_csv_round_trips_every_signal_type():
    vector = np.linspace(-1, 1, 512, dtype=np.float32)
    entries = [
        HashEntry(signal_type=SignalType.PDQ, signal=PDQ_A, external_id="a, with comma", tags=("x", "y")),
        HashEntry(signal_type=SignalType.MD5, signal=MD5_A, external_id='quote "q"'),
        HashEntry(signal_type=SignalType.SSCD, signal=sscd_signal_of(vector), external_id="v"),
    ]
    text = "".join(hashlist_lines(entries, format=HashListFormat.CSV))
    assert text.splitlines()[0] == "signal_type,signal,external_id,tags"
    back = _entries(_read(text, HashListFormat.CSV, sscd_dimensions=512))
    assert [(e.signal_type, e.signal, e.external_id, e.tags) for e in back] == [
        (e.signal_type, e.signal, e.external_id, e.tags) for e in entries
    ]


# --- threatexchange's dataset CSV ------------------------------------------------------------------


def test_the_dataset_csv_reads_collab_category_and_tags():
    text = (
        "signal_type,signal_str,collab,category,tags\r\n"
        f"pdq,{PDQ_A},Sample Signals,POSITIVE_CLASS,media_priority_s1 spam\r\n"
        f"video_md5,{MD5_A},Sample Signals,NEGATIVE_CLASS,\r\n"
        f"pdq,{PDQ_B},Other,MAYBE,\r\n"
        f"pdq,{PDQ_B},Other\r\n"
    )
    items = _read(text, HashListFormat.TE_DATASET)
    entries = _entries(items)
    assert [(e.signal_type, e.source, e.category, e.tags) for e in entries] == [
        (SignalType.PDQ, "Sample Signals", "POSITIVE_CLASS", ("media_priority_s1", "spam")),
        (SignalType.MD5, "Sample Signals", "NEGATIVE_CLASS", ()),
    ]
    problems = _problems(items)
    assert "unknown category 'MAYBE'" in problems[4]
    assert "3 columns, the header has 5" in problems[5]


def test_the_dataset_csv_needs_its_header():
    items = _read(f"pdq,{PDQ_A},x,POSITIVE_CLASS,\n", HashListFormat.TE_DATASET)
    assert not _entries(items) and "header" in _problems(items)[1]


def test_threatexchanges_cli_fetches_our_local_file_and_its_dataset_csv_reads_back(tmp_path):
    """The real `threatexchange` CLI (1.2.17) as the other side: our export in, its CSV out, ours reads it."""
    entries = [
        HashEntry(signal_type=SignalType.PDQ, signal=PDQ_A),
        HashEntry(signal_type=SignalType.PDQ, signal=PDQ_B),
        HashEntry(signal_type=SignalType.MD5, signal=MD5_A),
    ]
    bank = tmp_path / "bank.txt"
    bank.write_text("".join(hashlist_lines(entries, format=HashListFormat.LOCAL_FILE)))
    cli = [sys.executable, "-m", "threatexchange"]
    environment = {**os.environ, "HOME": str(tmp_path)}  # the CLI keeps its state in ~/.threatexchange

    def run(*arguments: str) -> str:
        return subprocess.run(
            cli + list(arguments), env=environment, check=True, capture_output=True, text=True, timeout=120
        ).stdout

    run("config", "collab", "edit", "local_file", "--create", "--filename", str(bank), "Our bank")
    run("fetch")
    exported = run("dataset", "--print-signals", "--csv")
    assert hashlist_format_guess(exported.splitlines()[0]) is HashListFormat.TE_DATASET
    back = _entries(_read(exported, HashListFormat.TE_DATASET))
    assert sorted((e.signal_type, e.signal, e.source) for e in back) == sorted(
        (e.signal_type, e.signal, "Our bank") for e in entries
    )
    # and the dataset CSV we write reads back the same way
    ours = "".join(hashlist_lines(back, format=HashListFormat.TE_DATASET, collab="unused"))
    assert _entries(_read(ours, HashListFormat.TE_DATASET)) == back


# --- detection and files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first_line, expected",
    [
        ("signal_type,signal_str,collab,category,tags", HashListFormat.TE_DATASET),
        ("\ufeffsignal_type,signal,external_id,tags", HashListFormat.CSV),
        ("signal_type,signal", HashListFormat.CSV),
        (f"pdq {PDQ_A}", HashListFormat.LOCAL_FILE),
        (PDQ_A, HashListFormat.LOCAL_FILE),
    ],
)
def test_the_format_is_told_by_the_first_line(first_line, expected):
    assert hashlist_format_guess(first_line) is expected


def test_a_file_with_a_bom_and_undecodable_bytes_reports_only_that_line(tmp_path):
    path = Path(tmp_path / "list.csv")
    path.write_bytes(
        b"\xef\xbb\xbfsignal_type,signal,external_id,tags\n"
        + f"pdq,{PDQ_A},one,\n".encode()
        + b"pdq,\xff\xfe,two,\n"
        + f"md5,{MD5_A},three,\n".encode()
    )
    with hashlist_open(path) as file:
        items = list(hashlist_read(file, format=HashListFormat.CSV))
    assert [e.external_id for e in _entries(items)] == ["one", "three"]
    assert list(_problems(items)) == [3]


def test_reading_is_streamed_a_line_at_a_time():
    pulled = 0

    def lines():
        nonlocal pulled
        for number in range(1_000_000):
            pulled += 1
            yield f"pdq {number:064x}\n"

    reader = hashlist_read(lines(), format=HashListFormat.LOCAL_FILE)
    first = [next(reader) for _ in range(3)]
    assert [e.line_number for e in first] == [1, 2, 3]
    assert pulled <= 4

    rows = hashlist_read((f"md5,{n:032x},id{n}\n" for n in range(1_000_000)), format=HashListFormat.CSV)
    assert next(rows).external_id == "id0"
