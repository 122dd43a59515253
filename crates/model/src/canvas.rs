//! The checks every engine makes on a canvas before a forward pass, so each bad input gets one message
//! whichever engine runs it.

/// Why a canvas (or the positions read from it) cannot go through a forward pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanvasError {
    #[error("the canvas is empty")]
    Empty,
    #[error("canvas of {len} tokens is longer than the engine's maximum of {max}")]
    TooLong { len: usize, max: usize },
    #[error("token id {token} is outside the vocabulary (size {vocab})")]
    TokenOutOfRange { token: u32, vocab: usize },
    #[error("position {position} is outside the canvas of {len} tokens")]
    PositionOutOfRange { position: usize, len: usize },
}

/// A canvas an engine with context `max` can run: not empty, not longer than `max`, every id in the vocabulary.
pub fn check_canvas(tokens: &[u32], vocab: usize, max: usize) -> Result<(), CanvasError> {
    if tokens.is_empty() {
        return Err(CanvasError::Empty);
    }
    if tokens.len() > max {
        return Err(CanvasError::TooLong { len: tokens.len(), max });
    }
    match tokens.iter().find(|&&t| t as usize >= vocab) {
        Some(&token) => Err(CanvasError::TokenOutOfRange { token, vocab }),
        None => Ok(()),
    }
}

/// Positions (canvas rows) that all fall inside a canvas of `len` tokens.
pub fn check_positions(positions: impl IntoIterator<Item = usize>, len: usize) -> Result<(), CanvasError> {
    match positions.into_iter().find(|&p| p >= len) {
        Some(position) => Err(CanvasError::PositionOutOfRange { position, len }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bad_canvas_names_its_fault() {
        assert_eq!(check_canvas(&[], 10, 4), Err(CanvasError::Empty));
        assert_eq!(check_canvas(&[1, 2, 3, 4, 5], 10, 4), Err(CanvasError::TooLong { len: 5, max: 4 }));
        assert_eq!(check_canvas(&[1, 10, 2], 10, 4), Err(CanvasError::TokenOutOfRange { token: 10, vocab: 10 }));
        assert_eq!(check_canvas(&[0, 9, 3, 4], 10, 4), Ok(()));
        assert_eq!(check_positions([0, 3, 4], 4), Err(CanvasError::PositionOutOfRange { position: 4, len: 4 }));
        assert_eq!(check_positions([0, 3], 4), Ok(()));
    }
}
