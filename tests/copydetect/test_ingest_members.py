"""Zip members are read without trusting the sizes the archive declares (a forged size is a memory bomb)."""

import io
import struct
import tracemalloc
import zipfile
import zlib

import pytest

from copydetect.ingest import zip_member_read

INFLATED = 100_000_000


def forged_zip(*, declared: int, inflated: int) -> zipfile.ZipFile:
    """One member whose headers declare `declared` bytes but whose deflate stream inflates to `inflated`."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = b"\0" * (1 << 20)
    stream = b"".join(compressor.compress(piece) for _ in range(inflated // len(piece))) + compressor.flush()
    name, crc = b"photo.jpg", zlib.crc32(b"\0" * declared)
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(stream), declared, len(name), 0) + name
    central = (
        struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(stream), declared, len(name), 0, 0, 0, 0, 0, 0
        )
        + name
    )
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(stream), 0)
    return zipfile.ZipFile(io.BytesIO(local + stream + central + end))


def test_a_member_declaring_4_kb_that_inflates_to_100_mb_is_read_in_small_pieces():
    archive = forged_zip(declared=4000, inflated=INFLATED)
    info = archive.getinfo("photo.jpg")
    assert info.file_size == 4000 and info.compress_size < 200_000
    tracemalloc.start()
    try:
        data = zip_member_read(archive, info, max_bytes=50_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(data) == 4000, "no more than the declared bytes come out"
    assert peak < 4_000_000, f"held {peak / 1e6:.0f} MB for a 4 kB member"


def test_bytes_are_counted_as_they_inflate_and_reading_stops_at_the_limit():
    archive = forged_zip(declared=20_000_000, inflated=20_000_000)
    info = archive.getinfo("photo.jpg")
    with pytest.raises(ValueError, match="Too large: more than 1.0 MB once inflated"):
        zip_member_read(archive, info, max_bytes=1_000_000)


def test_an_honest_member_reads_whole():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("a/one.jpg", b"x" * 300_000)
    archive = zipfile.ZipFile(buffer)
    assert zip_member_read(archive, archive.getinfo("a/one.jpg"), max_bytes=1_000_000) == b"x" * 300_000
