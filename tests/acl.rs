//! ACL for the one user, `default`, against redis-server: what every read-only subcommand
//! answers with and without a password (RESP2 and RESP3), and the errors; ACL SETUSER is
//! refused (luagate has no other user). And MODULE, with no module ever loaded.

mod common;

#[test]
fn acl_answers_about_the_default_user_as_redis() {
    let mut d = common::Diff::new();
    d.check_lines(
        "
        ACL WHOAMI
        ACL USERS
        ACL LIST
        ACL GETUSER default
        ACL GETUSER nobody
        ACL GETUSER
        ACL CAT
        ACL CAT nosuchcat
        ACL LOG
        ACL LOG RESET
        ACL LOG 5
        ACL LOG x
        ACL GENPASS 0
        ACL GENPASS 4097
        ACL GENPASS x
        ACL DRYRUN default GET a
        ACL DRYRUN default NOSUCH a
        ACL DRYRUN nobody GET a
        ACL DRYRUN default GET
        ACL DRYRUN default CLIENT NOSUCH
        ACL LOAD
        ACL SAVE
        ACL DELUSER default
        ACL DELUSER nobody other
        ACL HELP
        ACL FOO
        ACL
        CONFIG SET requirepass secret
        AUTH secret
        ACL LIST
        ACL GETUSER default
        ",
    );
    d.both(&["HELLO", "3"]);
    d.check_lines(
        "
        ACL GETUSER default
        ACL CAT
        ",
    );
    d.check(&["CONFIG", "SET", "requirepass", ""]);
    d.check(&["ACL", "GETUSER", "default"]);
    // Random passwords: only their shape can match.
    for (bits, len) in [(None, 64), (Some("10"), 3), (Some("4096"), 1024)] {
        let mut args = vec!["ACL", "GENPASS"];
        args.extend(bits);
        let (x, y) = d.both(&args);
        let hex = |r: &[u8]| -> usize {
            let s = String::from_utf8_lossy(r).into_owned();
            let body = s.split("\r\n").nth(1).unwrap_or_default().to_string();
            assert!(body.bytes().all(|b| b.is_ascii_hexdigit()), "{s}");
            body.len()
        };
        assert_eq!((hex(&x), hex(&y)), (len, len), "{args:?}");
    }
    let r = d.a.cmd_str(&["ACL", "SETUSER", "bob", "on"]);
    assert!(r.starts_with("-ERR ACL SETUSER is not supported"), "{r}");
}

#[test]
fn module_lists_none_and_refuses_loading_as_redis() {
    let mut d = common::Diff::new();
    d.check_lines(
        "
        MODULE LIST
        MODULE HELP
        MODULE LOAD /x.so
        MODULE LOAD
        MODULE UNLOAD x
        MODULE LOADEX /x.so
        MODULE FOO
        MODULE
        ",
    );
    d.both(&["HELLO", "3"]);
    d.check(&["MODULE", "LIST"]);
}
