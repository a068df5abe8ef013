//! The conform rules SDK. The rule ABI and this SDK arrive with the WASM rule host; until then
//! this crate only reserves its place in the workspace.
