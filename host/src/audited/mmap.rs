//! Input files mapped read-only, so that a plain file is parsed where it lies.

use std::fs::File;

/// Maps a file read-only; `None` for an empty file (which cannot be mapped).
pub(crate) fn map_file(file: &File) -> std::io::Result<Option<memmap2::Mmap>> {
    if file.metadata()?.len() == 0 {
        return Ok(None);
    }
    // SAFETY: the map is read-only and lives only while this file is parsed. If another process
    // truncated the file meanwhile, reads past the new end would fault: the same contract as
    // every tool that maps its input (ripgrep, for one); ingest inputs are delivered files that
    // nothing rewrites in place.
    // Populating the map up front costs one system call instead of a page fault per 4 KiB.
    let map = unsafe { memmap2::MmapOptions::new().populate().map(file)? };
    map.advise(memmap2::Advice::Sequential)?;
    Ok(Some(map))
}
