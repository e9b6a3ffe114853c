//! The Lua libraries Redis exposes to scripts: `cjson`, `cmsgpack`, `struct` and `bit`,
//! reimplemented to behave byte-for-byte like the C libraries Redis 7 embeds.
//!
//! Invariant: [`register_all`] only creates the four global tables in the VM it is given;
//! it touches no other global, so the scripting engine decides everything else (sandboxing,
//! read-only tables). All functions are raw Lua C functions (see `raw`), which is what makes
//! error messages, argument-error function names and `pcall` results identical to Redis.
//!
//! Table key order: `cjson.encode` and `cmsgpack.pack` walk tables with `lua_next` on the
//! VM that owns them, exactly as the C libraries do, so objects and maps come out in the
//! interpreter's own iteration order (the same Lua 5.1 hashing as Redis).

pub mod bit;
pub mod cjson;
mod cjson_decode;
pub mod cmsgpack;
mod raw;
pub mod structlib;

use mlua::ffi;

/// Creates the globals `cjson`, `cmsgpack`, `struct` and `bit` in `lua`.
pub fn register_all(lua: &mlua::Lua) -> mlua::Result<()> {
    // SAFETY: the closure only uses the Lua C API on the state mlua hands it, inside mlua's
    // protected call, and leaves the stack balanced.
    unsafe {
        lua.exec_raw::<()>((), |l| {
            raw::init_buffer_metatable(l);
            cjson::push_module(l);
            ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"cjson".as_ptr());
            structlib::push_module(l);
            ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"struct".as_ptr());
            cmsgpack::push_module(l);
            ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"cmsgpack".as_ptr());
            bit::push_module(l);
            ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"bit".as_ptr());
        })
    }
}
