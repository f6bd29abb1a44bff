//! The interactive loop: raw mode and the alternate screen, a refresh on the interval,
//! keys. The terminal is restored on every way out (quit, error, panic).

use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::DefaultTerminal;
use sedimentdb_report::DashboardData;

use super::ui::{draw, UiState};
use super::Source;
use crate::exit::{CliError, CliResult};

/// The windows keys 1, 2 and 3 choose.
const WINDOWS: [(char, u64); 3] = [('1', 3600), ('2', 86_400), ('3', 7 * 86_400)];

/// `1h`, `24h`, `7d` or humantime's text for other windows.
pub fn window_label(window: Duration) -> String {
    match window.as_secs() {
        3600 => "1h".into(),
        86_400 => "24h".into(),
        604_800 => "7d".into(),
        _ => humantime::format_duration(window).to_string(),
    }
}

/// What a key press does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave.
    Quit,
    /// Show another window (and refresh).
    Window(Duration),
    /// Select the next panel.
    Next,
    /// Select the previous panel.
    Previous,
    /// Refresh now.
    Refresh,
    /// Nothing.
    None,
}

/// The action of a key (pure, tested).
pub fn action(code: KeyCode, modifiers: KeyModifiers) -> Action {
    match code {
        KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
        KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => Action::Quit,
        KeyCode::Char(c) if WINDOWS.iter().any(|w| w.0 == c) => {
            let secs = WINDOWS.iter().find(|w| w.0 == c).map_or(3600, |w| w.1);
            Action::Window(Duration::from_secs(secs))
        }
        KeyCode::Tab | KeyCode::Right | KeyCode::Down | KeyCode::Char('l') | KeyCode::Char('j') => {
            Action::Next
        }
        KeyCode::BackTab
        | KeyCode::Left
        | KeyCode::Up
        | KeyCode::Char('h')
        | KeyCode::Char('k') => Action::Previous,
        KeyCode::Char('r') => Action::Refresh,
        _ => Action::None,
    }
}

/// Runs until the user quits.
pub fn run(source: Source, window: Duration, every: Duration) -> CliResult<()> {
    // The first refresh happens before the screen switches, so that a bad database is
    // a plain one-line error.
    let first = source.refresh(window)?;
    let mut terminal = ratatui::try_init()
        .map_err(|e| CliError::new(format!("cannot set up the terminal: {e}")))?;
    let result = event_loop(&mut terminal, &source, window, every, first);
    ratatui::restore();
    result
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    source: &Source,
    mut window: Duration,
    every: Duration,
    first: DashboardData,
) -> CliResult<()> {
    let mut data = first;
    let mut state = UiState {
        selected: 0,
        window: window_label(window),
        refresh: humantime::format_duration(every).to_string(),
        refreshes: 1,
        error: None,
    };
    let mut last = Instant::now();
    loop {
        terminal
            .draw(|f| draw(f, &data, &state))
            .map_err(|e| CliError::new(format!("cannot draw: {e}")))?;
        let wait = every.saturating_sub(last.elapsed());
        let mut refresh = wait.is_zero();
        if !refresh && event::poll(wait).map_err(|e| CliError::new(format!("terminal: {e}")))? {
            if let Event::Key(key) =
                event::read().map_err(|e| CliError::new(format!("terminal: {e}")))?
            {
                if key.kind != KeyEventKind::Press {
                    continue;
                }
                let panels = data.panels.len().max(1);
                match action(key.code, key.modifiers) {
                    Action::Quit => return Ok(()),
                    Action::Window(w) => {
                        window = w;
                        state.window = window_label(w);
                        refresh = true;
                    }
                    Action::Next => state.selected = (state.selected + 1) % panels,
                    Action::Previous => state.selected = (state.selected + panels - 1) % panels,
                    Action::Refresh => refresh = true,
                    Action::None => {}
                }
            }
        }
        if refresh {
            match source.refresh(window) {
                Ok(d) => {
                    data = d;
                    state.error = None;
                }
                // The previous data stays; the footer says what failed.
                Err(e) => state.error = Some(e.to_string()),
            }
            state.refreshes += 1;
            state.selected = state.selected.min(data.panels.len().saturating_sub(1));
            last = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_actions() {
        let none = KeyModifiers::NONE;
        assert_eq!(action(KeyCode::Char('q'), none), Action::Quit);
        assert_eq!(
            action(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Action::Quit
        );
        assert_eq!(action(KeyCode::Char('c'), none), Action::None);
        assert_eq!(
            action(KeyCode::Char('2'), none),
            Action::Window(Duration::from_secs(86_400))
        );
        assert_eq!(
            action(KeyCode::Char('3'), none),
            Action::Window(Duration::from_secs(604_800))
        );
        assert_eq!(action(KeyCode::Tab, none), Action::Next);
        assert_eq!(action(KeyCode::BackTab, none), Action::Previous);
        assert_eq!(window_label(Duration::from_secs(86_400)), "24h");
        assert_eq!(window_label(Duration::from_secs(1800)), "30m");
    }
}
