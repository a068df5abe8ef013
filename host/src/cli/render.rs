//! Rendering library results as text or JSON, and what every renderer shares.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use super::Format;

/// Where and how a command writes its results.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub format: Format,
    pub quiet: bool,
}

impl Output {
    /// Writes `value` as pretty JSON, or calls `text` to write it for people.
    ///
    /// Text goes through `anstream`, which drops colours when stdout is not a terminal (or
    /// NO_COLOR is set), so renderers style freely.
    pub fn emit<T: Serialize>(
        &self,
        value: &T,
        text: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> anyhow::Result<()> {
        match self.format {
            Format::Json => {
                // Machines' output never goes through the colour filter.
                let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
                serde_json::to_writer_pretty(&mut stdout, value)?;
                writeln!(stdout)?;
                stdout.flush()?;
            }
            _ => {
                let mut stdout = anstream::stdout().lock();
                text(&mut stdout)?;
                stdout.flush()?;
            }
        }
        Ok(())
    }

    /// Fails unless the chosen format is one `command` writes.
    pub fn accept(&self, command: &str, formats: &[Format]) -> anyhow::Result<()> {
        if formats.contains(&self.format) {
            return Ok(());
        }
        let names: Vec<String> = formats.iter().map(|f| format_name(*f)).collect();
        anyhow::bail!(
            "conform {command} writes {}; not {}",
            names.join(", "),
            format_name(self.format)
        )
    }

    /// A progress bar on stderr, only when a person is watching.
    pub fn progress(&self) -> indicatif::ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} {pos} items ({per_sec}, {elapsed})",
            )
            .expect("valid template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }
}

/// Untrusted text (ids, annotations, labels) for a terminal: control characters escaped.
pub fn t(text: &str) -> std::borrow::Cow<'_, str> {
    conform::escape::terminal(text)
}

/// A count with its noun, pluralised.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Human-readable byte size.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn format_name(format: Format) -> String {
    clap::ValueEnum::to_possible_value(&format)
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// Styles for text output (stripped when not on a terminal).
pub mod style {
    use anstyle::{AnsiColor, Style};
    pub const ADDED: Style = AnsiColor::Green.on_default();
    pub const REMOVED: Style = AnsiColor::Red.on_default();
    pub const MODIFIED: Style = AnsiColor::Yellow.on_default();
    pub const DIM: Style = Style::new().dimmed();
    pub const BOLD: Style = Style::new().bold();
}

/// A JSON value on one line, cut to `max` characters for tables.
pub fn short_json(value: &serde_json::Value, max: usize) -> String {
    // JSON escapes C0 controls; DEL, C1 and bidirectional overrides it leaves as they are.
    let text = t(&value.to_string()).into_owned();
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// A snapshot's scopes in a few words: the one scope it covers, or how many in how many
/// accounts (an organisation delivers hundreds per period).
pub fn scopes(scopes: &[conform::store::ScopeInfo]) -> String {
    use conform::store::SnapshotKind;
    let partial = scopes
        .iter()
        .filter(|s| s.kind == SnapshotKind::Partial)
        .count();
    let partial_note = |text: String| match partial {
        0 => text,
        n if n == scopes.len() => format!("{text}, changes only"),
        n => format!("{text}, {n} with changes only"),
    };
    match scopes {
        [] => "-".to_string(),
        [one] => partial_note(match one.scope() {
            s if s == conform::model::Scope::ESTATE => "the whole estate".to_string(),
            s if s == conform::model::Scope::of("", "") => "no account or region".to_string(),
            s => s.to_string(),
        }),
        many => {
            let mut accounts: Vec<&str> = many.iter().map(|s| s.account_id.as_str()).collect();
            accounts.sort_unstable();
            accounts.dedup();
            partial_note(format!(
                "{} in {}",
                count(many.len() as u64, "scope"),
                count(accounts.len() as u64, "account")
            ))
        }
    }
}
