//! Who is at the keyboard: the OS user (uid and passwd name), the host, the
//! terminal and `SSH_CONNECTION`. Used for every journal line and for the
//! two-person rule, which compares uids.

use std::ffi::CStr;

use super::record::Actor;

fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: buffers are ours and sized; getpwuid_r writes only into them.
    let rc =
        unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut out) };
    if rc != 0 || out.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points into `buf`, NUL-terminated by getpwuid_r.
    let name = unsafe { CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: writes at most buf.len() bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn tty_name() -> Option<String> {
    for fd in [0, 1, 2] {
        // SAFETY: isatty/ttyname only read the descriptor; the returned
        // pointer is copied out before the next call.
        unsafe {
            if libc::isatty(fd) == 1 {
                let p = libc::ttyname(fd);
                if !p.is_null() {
                    return Some(CStr::from_ptr(p).to_string_lossy().into_owned());
                }
            }
        }
    }
    None
}

/// This process's identity.
pub fn current() -> Actor {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    Actor {
        user: user_name(uid)
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| format!("uid{uid}")),
        uid,
        host: host_name(),
        tty: tty_name(),
        ssh: std::env::var("SSH_CONNECTION")
            .ok()
            .filter(|s| !s.is_empty()),
        pid: std::process::id(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn identity_names_the_os_user() {
        let a = super::current();
        // SAFETY: getuid cannot fail.
        assert_eq!(a.uid, unsafe { libc::getuid() });
        assert!(!a.user.is_empty());
        assert!(!a.host.is_empty());
        assert_eq!(a.pid, std::process::id());
    }
}
