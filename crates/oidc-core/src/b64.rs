//! base64url without padding (RFC 7515 §2), the only encoding JOSE and PKCE use.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Encode bytes as unpadded base64url.
pub(crate) fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decode unpadded base64url. The engine refuses padding and non-canonical trailing bits, so
/// every byte string has exactly one accepted encoding (no signature malleability via encoding).
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}
