"""The failures page's scan input, read once per distinct text or file.

Every widget interaction reruns the page with the pasted text (or the uploaded file) unchanged:
parsing 50,000 pasted ids takes about 150 ms, comparing the text with the one parsed last
30 µs. Each session keeps its last outcome (ids or the reason the input is unusable) next to what
it was read from, so a slider step or a label edit reuses it and a changed input is read again.
Kept per session, not in st.cache_data: the ids are customer data, and a cache hit would still
hash the text and unpickle 50,000 ids (about 5 ms).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import TypeVar

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from basket_lib.api.errors import BasketError
from basket_lib.scan import inputs
from basket_lib.scan.inputs import CsvLayout, ParsedIds

# The last input read (pasted or uploaded), the last upload's layout, and the upload whose
# defaults the column picker's widgets were given.
_IDS = "_scan_input_ids"
_LAYOUT = "_scan_input_layout"
_WIDGETS_FOR = "_scan_input_widgets_for"

T = TypeVar("T")


def _read_once(slot: str, source: Hashable, read: Callable[[], T]) -> T:
    """`read()`'s outcome, kept in session state under `slot` until `source` changes; an input
    error is kept (and raised again) like a result."""
    kept = st.session_state.get(slot)
    if kept is not None and kept[0] == source:
        outcome = kept[1]
    else:
        try:
            outcome = read()
        except BasketError as exc:
            outcome = exc
        st.session_state[slot] = (source, outcome)
    if isinstance(outcome, BasketError):
        raise outcome.with_traceback(None)
    return outcome  # type: ignore[no-any-return]


def pasted_ids(text: str, *, cap: int) -> ParsedIds | None:
    """The ids of the text area, None while it holds none."""
    st.session_state.pop(_LAYOUT, None)
    if not text.strip():
        forget()
        return None
    return _read_once(_IDS, ("paste", text, cap), lambda: inputs.parse_pasted_ids(text, cap=cap))


def _file(upload: UploadedFile) -> tuple[str, str, str, int]:
    # A new upload (the same file again included) gets a new file_id.
    return "upload", upload.file_id, upload.name, upload.size


def upload_layout(upload: UploadedFile) -> CsvLayout:
    """csv_layout of the upload (raises InvalidInputError)."""
    return _read_once(
        _LAYOUT,
        _file(upload),
        lambda: inputs.csv_layout(upload.getvalue(), filename=upload.name),
    )


def uploaded_ids(upload: UploadedFile, *, cap: int, column: int | None, header: bool) -> ParsedIds:
    """parse_uploaded_csv of the upload (raises InvalidInputError)."""
    return _read_once(
        _IDS,
        (*_file(upload), cap, column, header),
        lambda: inputs.parse_uploaded_csv(
            upload.getvalue(), cap=cap, filename=upload.name, column=column, header=header
        ),
    )


def widget_defaults(upload: UploadedFile, defaults: Mapping[str, object]) -> None:
    """Give the widgets keyed in `defaults` those values whenever a different file is uploaded.

    Call before drawing them, and draw them without a `value`/`index` of their own. A keyed
    widget keeps its value across reruns, so without this a new file would be read with the
    previous file's choices while the browser draws the new file's defaults. Set through
    session state, the value reaches the browser too."""
    source = _file(upload)
    if st.session_state.get(_WIDGETS_FOR) != source or any(
        key not in st.session_state for key in defaults
    ):
        st.session_state[_WIDGETS_FOR] = source
        st.session_state.update(defaults)


def forget() -> None:
    """Nothing is pasted or uploaded now: free what was read last."""
    st.session_state.pop(_IDS, None)
    st.session_state.pop(_LAYOUT, None)
    st.session_state.pop(_WIDGETS_FOR, None)
