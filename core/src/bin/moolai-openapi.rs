//! Prints core's OpenAPI document, the one served at `/openapi.json`, without
//! starting a server: `scripts/api_types.sh` makes the dashboard's TypeScript
//! types from it and fails when the committed ones have drifted.

fn main() {
    let document = moolai_core::api::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    println!("{document}");
}
