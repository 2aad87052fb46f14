//! Key bindings as data: every screen and dialog declares its keys once in a table that both the key
//! dispatch and the help bar read, so the hints shown are always the keys handled.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key (or a few equivalent keys) bound to an action, with the words the help shows for it.
#[derive(Debug, Clone, Copy)]
pub struct Binding<A: Copy + 'static> {
    pub keys: &'static [KeyCode],
    pub label: &'static str,
    pub help: &'static str,
    pub action: A,
}

/// What the help bar and the full help show for a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    pub label: &'static str,
    pub help: &'static str,
}

/// The action bound to a key press, if any; Control and Alt combinations are never bound here.
pub fn lookup<A: Copy>(bindings: &[Binding<A>], key: &KeyEvent) -> Option<A> {
    if key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return None;
    }
    bindings
        .iter()
        .find(|binding| binding.keys.contains(&key.code))
        .map(|binding| binding.action)
}

/// The hints of a binding table, in its order.
pub fn hints<A: Copy>(bindings: &[Binding<A>]) -> Vec<Hint> {
    bindings
        .iter()
        .map(|binding| Hint {
            label: binding.label,
            help: binding.help,
        })
        .collect()
}

/// Moving the selection of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
}

/// The movement keys, the same on every list.
pub const MOVES: &[Binding<Move>] = &[
    Binding {
        keys: &[KeyCode::Up, KeyCode::Char('k')],
        label: "↑/k",
        help: "up",
        action: Move::Up,
    },
    Binding {
        keys: &[KeyCode::Down, KeyCode::Char('j')],
        label: "↓/j",
        help: "down",
        action: Move::Down,
    },
    Binding {
        keys: &[KeyCode::PageUp],
        label: "PgUp",
        help: "page up",
        action: Move::PageUp,
    },
    Binding {
        keys: &[KeyCode::PageDown],
        label: "PgDn",
        help: "page down",
        action: Move::PageDown,
    },
    Binding {
        keys: &[KeyCode::Home, KeyCode::Char('g')],
        label: "Home/g",
        help: "first",
        action: Move::Top,
    },
    Binding {
        keys: &[KeyCode::End, KeyCode::Char('G')],
        label: "End/G",
        help: "last",
        action: Move::Bottom,
    },
];

/// A filterable list with a selection; `selected` indexes the visible (filtered) items.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub filter: String,
    pub selected: usize,
}

impl Selection {
    /// The indices of the items that match the filter (case-insensitive, any of the item's words).
    pub fn visible<T>(&self, items: &[T], text_of: impl Fn(&T) -> String) -> Vec<usize> {
        let needle = self.filter.to_lowercase();
        items
            .iter()
            .enumerate()
            .filter(|(_, item)| needle.is_empty() || text_of(item).to_lowercase().contains(&needle))
            .map(|(item_idx, _)| item_idx)
            .collect()
    }

    /// Moves the selection within `n_visible` items.
    pub fn apply(&mut self, movement: Move, n_visible: usize) {
        const PAGE: usize = 10;
        let last = n_visible.saturating_sub(1);
        self.selected = match movement {
            Move::Up => self.selected.saturating_sub(1),
            Move::Down => (self.selected + 1).min(last),
            Move::PageUp => self.selected.saturating_sub(PAGE),
            Move::PageDown => (self.selected + PAGE).min(last),
            Move::Top => 0,
            Move::Bottom => last,
        };
    }

    /// Keeps the selection inside the list after it changed.
    pub fn clamp(&mut self, n_visible: usize) {
        self.selected = self.selected.min(n_visible.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_either_key_and_ignores_control() {
        let down = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
        assert_eq!(lookup(MOVES, &down), Some(Move::Down));
        let control_j = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL);
        assert_eq!(lookup(MOVES, &control_j), None);
    }

    #[test]
    fn selection_stays_in_the_list() {
        let mut selection = Selection::default();
        selection.apply(Move::Down, 2);
        selection.apply(Move::Down, 2);
        assert_eq!(selection.selected, 1);
        selection.apply(Move::Up, 2);
        selection.apply(Move::Up, 2);
        assert_eq!(selection.selected, 0);
        selection.apply(Move::Bottom, 0);
        assert_eq!(selection.selected, 0);
    }
}
