"""PDQ hash-bank index: exact Hamming-radius lookup at 10M entries, live additions, snapshot files."""

from copydetect.pdq_index.codes import pdq_codes_of_hex, pdq_hex_of_codes
from copydetect.pdq_index.index import PDQ_DEFAULT_RADIUS, PdqChange, PdqIndex, PdqMatch

__all__ = ["PDQ_DEFAULT_RADIUS", "PdqChange", "PdqIndex", "PdqMatch", "pdq_codes_of_hex", "pdq_hex_of_codes"]
