//! The layer table, parsed from docs/architecture.md.

const BEGIN: &str = "<!-- layers:begin -->";
const END: &str = "<!-- layers:end -->";

/// One row's module: a module-path prefix (`reset::email`) and the layer it belongs to.
#[derive(Debug)]
pub struct Entry {
    pub prefix: Vec<String>,
    pub layer: usize,
    pub layer_name: String,
}

impl Entry {
    pub fn name(&self) -> String {
        self.prefix.join("::")
    }
}

#[derive(Debug)]
pub struct Layers {
    pub entries: Vec<Entry>,
}

impl Layers {
    /// Rows look like `| 2 | domain | `reset::email`, `hashing::phc` | ... |`: the layer number,
    /// its name, then every module prefix in backticks.
    pub fn parse(doc: &str) -> Result<Self, String> {
        let start = doc.find(BEGIN).ok_or(format!("no {BEGIN} marker"))? + BEGIN.len();
        let len = doc[start..].find(END).ok_or(format!("no {END} marker"))?;
        let mut entries: Vec<Entry> = Vec::new();
        let mut last_layer = None;
        for row in doc[start..start + len]
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with('|'))
        {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            let Ok(layer) = cells[0].parse::<usize>() else {
                continue; // the header and the |---| line
            };
            if cells.len() < 3 || last_layer.is_some_and(|l| l >= layer) {
                return Err(format!("bad or out-of-order layer row: {row}"));
            }
            last_layer = Some(layer);
            let modules: Vec<&str> = cells[2].split('`').skip(1).step_by(2).collect();
            if modules.is_empty() {
                return Err(format!("layer row names no module in backticks: {row}"));
            }
            for m in modules {
                let prefix: Vec<String> = m.split("::").map(str::to_owned).collect();
                let ident =
                    |s: &String| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !prefix.iter().all(ident) {
                    return Err(format!("`{m}` in the Modules column is not a module path"));
                }
                if entries.iter().any(|e| e.prefix == prefix) {
                    return Err(format!("`{m}` is in two layer rows"));
                }
                entries.push(Entry {
                    prefix,
                    layer,
                    layer_name: cells[1].to_owned(),
                });
            }
        }
        if entries.is_empty() {
            return Err("the layer table is empty".to_owned());
        }
        Ok(Self { entries })
    }

    /// The entry a module path falls under: the longest matching prefix.
    pub fn entry(&self, path: &[String]) -> Option<usize> {
        (0..self.entries.len())
            .filter(|&i| path.starts_with(&self.entries[i].prefix))
            .max_by_key(|&i| self.entries[i].prefix.len())
    }

    pub fn describe(&self, i: usize) -> String {
        let e = &self.entries[i];
        format!("`{}` (layer {} {})", e.name(), e.layer, e.layer_name)
    }
}
