//! The `raw` text of a row: lossy UTF-8, cut to at most [`MAX_RAW_BYTES`] with an ellipsis.

/// The most bytes of a row's `raw` text, the ellipsis included.
pub const MAX_RAW_BYTES: usize = 64 * 1024;

const ELLIPSIS: char = '…';

/// `bytes` as text (invalid UTF-8 replaced by `�`), at most [`MAX_RAW_BYTES`] long; longer text
/// is cut at a character boundary and ends with `…`.
pub fn raw_text(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(MAX_RAW_BYTES)];
    let text = String::from_utf8_lossy(head);
    if bytes.len() <= MAX_RAW_BYTES && text.len() <= MAX_RAW_BYTES {
        return text.into_owned();
    }
    let mut end = MAX_RAW_BYTES - ELLIPSIS.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = text[..end].to_string();
    cut.push(ELLIPSIS);
    cut
}
