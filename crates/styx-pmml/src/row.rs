//! Input rows: one cell per input field of a model, by index.

/// One input cell as the caller sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// No value (an empty CSV cell, a JSON null, an absent key).
    Missing,
    /// Text, parsed according to the field's data type (as a CSV cell is).
    Text(&'a str),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Missing,
    Text,
    Number,
    Bool,
    /// A collection of items (the transactional input of an association model).
    Items,
}

#[derive(Debug, Clone)]
struct CellBuf {
    kind: Kind,
    text: String,
    num: f64,
    /// The items of an `Items` cell: the first `n_items` (the rest is kept for reuse).
    items: Vec<String>,
    n_items: usize,
}

/// The input values of one record, by input field index (see
/// [`crate::Model::input_fields`]). A row is reusable: setting a text cell copies into a
/// buffer kept from earlier records, so filling a row allocates nothing once warm.
#[derive(Debug, Clone)]
pub struct Row {
    cells: Vec<CellBuf>,
}

impl Row {
    /// A row of `n` missing cells.
    pub fn new(n: usize) -> Row {
        Row {
            cells: vec![
                CellBuf {
                    kind: Kind::Missing,
                    text: String::new(),
                    num: 0.0,
                    items: Vec::new(),
                    n_items: 0,
                };
                n
            ],
        }
    }

    /// The number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the row has no cells.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Marks every cell missing.
    pub fn clear(&mut self) {
        for c in &mut self.cells {
            c.kind = Kind::Missing;
        }
    }

    /// Sets cell `i` to text (an empty string is a missing value).
    pub fn set_text(&mut self, i: usize, text: &str) {
        let c = &mut self.cells[i];
        c.text.clear();
        c.text.push_str(text);
        c.kind = Kind::Text;
    }

    /// Sets cell `i` to a number.
    pub fn set_number(&mut self, i: usize, x: f64) {
        let c = &mut self.cells[i];
        c.num = x;
        c.kind = Kind::Number;
    }

    /// Sets cell `i` to a boolean.
    pub fn set_bool(&mut self, i: usize, b: bool) {
        let c = &mut self.cells[i];
        c.num = if b { 1.0 } else { 0.0 };
        c.kind = Kind::Bool;
    }

    /// Sets cell `i` to a missing value.
    pub fn set_missing(&mut self, i: usize) {
        self.cells[i].kind = Kind::Missing;
    }

    /// Makes cell `i` an empty collection of items: the input of a transactional
    /// association model (a field whose value is the set of items of one transaction).
    pub fn clear_items(&mut self, i: usize) {
        let c = &mut self.cells[i];
        c.kind = Kind::Items;
        c.n_items = 0;
    }

    /// Adds an item to the collection of cell `i` (making it a collection first if it is
    /// not one). An empty text is a missing item.
    pub fn push_item(&mut self, i: usize, text: &str) {
        let c = &mut self.cells[i];
        if c.kind != Kind::Items {
            c.kind = Kind::Items;
            c.n_items = 0;
        }
        if c.n_items == c.items.len() {
            c.items.push(String::new());
        }
        let slot = &mut c.items[c.n_items];
        slot.clear();
        slot.push_str(text);
        c.n_items += 1;
    }

    /// The items of cell `i` when it is a collection (see [`Row::push_item`]).
    pub fn items(&self, i: usize) -> Option<&[String]> {
        match self.cells.get(i) {
            Some(c) if c.kind == Kind::Items => Some(&c.items[..c.n_items]),
            _ => None,
        }
    }

    /// Sets cell `i` from a [`Cell`].
    pub fn set(&mut self, i: usize, cell: Cell<'_>) {
        match cell {
            Cell::Missing => self.set_missing(i),
            Cell::Text(t) => self.set_text(i, t),
            Cell::Number(x) => self.set_number(i, x),
            Cell::Bool(b) => self.set_bool(i, b),
        }
    }

    /// Cell `i` (missing when out of range).
    pub fn cell(&self, i: usize) -> Cell<'_> {
        match self.cells.get(i) {
            None => Cell::Missing,
            Some(c) => match c.kind {
                // A collection is no single value; models that take one read it with
                // `Row::items`.
                Kind::Missing | Kind::Items => Cell::Missing,
                Kind::Text => Cell::Text(&c.text),
                Kind::Number => Cell::Number(c.num),
                Kind::Bool => Cell::Bool(c.num != 0.0),
            },
        }
    }
}
