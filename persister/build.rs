// `sqlx::migrate!` embeds ../migrations at compile time; a new migration file must
// rebuild the persister, or it would run with the old schema list.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
