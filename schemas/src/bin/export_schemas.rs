//! Regenerates `schemas/json/` from the types: `cargo run -p arrakis-schemas --bin export-schemas`.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("json");
    std::fs::create_dir_all(&dir)?;
    for file in arrakis_schemas::all_schemas() {
        std::fs::write(dir.join(file.file_name), arrakis_schemas::render_schema(&file.schema))?;
        println!("wrote schemas/json/{}", file.file_name);
    }
    Ok(())
}
