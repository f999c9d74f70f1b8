"""Mail as data: parsing, classification and subject handling.

Pure: the standard library's ``email`` package, mail-parser-reply and
charset-normalizer only; no database, no sockets, no settings object.
"""
