//! A TCP forwarder between a follower and its leader, whose links a test can break.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

/// Forwards connections to `to`; `cut()` breaks every forwarded connection.
pub struct Proxy {
    pub port: u16,
    conns: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    pub fn new(to: u16) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let c = conns.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let Ok(up) = TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                for (mut a, mut b) in [
                    (s.try_clone().unwrap(), up.try_clone().unwrap()),
                    (up.try_clone().unwrap(), s.try_clone().unwrap()),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = a.read(&mut buf) {
                            if n == 0 || b.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = b.shutdown(std::net::Shutdown::Both);
                    });
                }
                c.lock().unwrap().extend([s, up]);
            }
        });
        Proxy { port, conns }
    }

    pub fn cut(&self) {
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}
