"""How large a bank file may be: far above any real bank, low enough that a crafted file cannot exhaust memory.

The CLI and the console both read files through `questions.importers.read_bank`, so these hold for both.
A real bank of 5,000 questions is a few MB of sheet XML; the chat-reply limit of each question is
checked separately by the validators, these are the hard safety caps in front of them.
"""
from __future__ import annotations

import math

MB = 1024 * 1024

MAX_FILE_BYTES = 20 * MB  # any bank file as stored; an upload is already capped by the web server
MAX_ARCHIVE_MEMBERS = 1_000  # parts inside an .xlsx; Excel writes about ten plus two per sheet
MAX_UNCOMPRESSED_BYTES = 50 * MB  # all parts of an .xlsx together, unpacked
MAX_MEMBER_BYTES = 20 * MB  # one part (a sheet, the shared strings), unpacked
MAX_COMPRESSION_RATIO = 100  # sheet XML packs about 5–20 times; a run of one character about 1,000
RATIO_CHECKED_FROM_BYTES = 1 * MB  # small parts (styles, an empty sheet) may pack tighter, harmlessly
MAX_QUESTION_ROWS = 5_000  # non-empty rows below the header, all sheets together
MAX_CELL_CHARS = 4_000  # one Excel or CSV cell; a question must fit in 1,400 bytes anyway


def megabytes(size: int) -> str:
    """Say a size in MB as the refusals word it, rounded up to a tenth ("512 MB", "50.1 MB")."""
    return f"{math.ceil(size * 10 / MB) / 10:,g} MB"
