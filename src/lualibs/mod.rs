//! Placeholder for the Lua libraries (cjson, cmsgpack, struct, bit), written by another part of
//! the project; the real module replaces this file. Invariant: `register_all` only creates
//! globals in the state it is given and keeps no state of its own.

/// Creates the library globals (`cjson`, `cmsgpack`, `struct`, `bit`) in `lua`.
pub fn register_all(_lua: &mlua::Lua) -> mlua::Result<()> {
    Ok(())
}
