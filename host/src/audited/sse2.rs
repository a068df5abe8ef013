//! SSE2 steps of the JSON scanner: masks of the bytes it stops at, sixteen or sixty-four bytes
//! at a time. SSE2 is part of the x86-64 baseline, so no run-time detection is needed; other
//! targets use the scanner's portable eight-byte path. The scanner's tests check both masks
//! against a byte-by-byte definition for every byte value at every position.

/// One bit per byte of `chunk` (first byte lowest) that a string scan must stop at.
#[inline(always)]
pub(crate) fn special_bytes_16(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
        _mm_set1_epi8,
    };
    let half = |i: usize| i64::from_le_bytes(chunk[i..i + 8].try_into().expect("eight bytes"));
    // SAFETY: these intrinsics need SSE2, which every x86-64 processor has (it is part of the
    // architecture's baseline, enabled for every x86_64 target); they touch no memory.
    unsafe {
        let v = _mm_set_epi64x(half(8), half(0));
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // A byte is at most 0x1f exactly when the larger of it and 0x1f is 0x1f.
        let limit = _mm_set1_epi8(0x1f);
        let control = _mm_cmpeq_epi8(_mm_max_epu8(v, limit), limit);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
    }
}

/// One bit per byte of a 64-byte block (first byte lowest) for each kind of byte
/// `json::container_end_unchecked` looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockMasks {
    pub(crate) quote: u64,
    pub(crate) backslash: u64,
    pub(crate) open: u64,
    pub(crate) close: u64,
}

#[inline(always)]
pub(crate) fn block_masks(block: &[u8; 64]) -> BlockMasks {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x, _mm_set1_epi8,
    };
    let word = |i: usize| i64::from_le_bytes(block[i..i + 8].try_into().expect("eight bytes"));
    let mut masks = BlockMasks {
        quote: 0,
        backslash: 0,
        open: 0,
        close: 0,
    };
    for chunk in 0..4 {
        // SAFETY: as in `special_bytes_16`: SSE2 is part of every x86-64 target's baseline,
        // and these intrinsics touch no memory.
        let (quote, backslash, open, close) = unsafe {
            let v = _mm_set_epi64x(word(chunk * 16 + 8), word(chunk * 16));
            // `[` and `{` differ only in the bit 0x20, as do `]` and `}`.
            let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
            let mask = |m| u64::from(_mm_movemask_epi8(m) as u16);
            (
                mask(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8))),
                mask(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8))),
                mask(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'{' as i8))),
                mask(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'}' as i8))),
            )
        };
        let shift = chunk * 16;
        masks.quote |= quote << shift;
        masks.backslash |= backslash << shift;
        masks.open |= open << shift;
        masks.close |= close << shift;
    }
    masks
}
