//! CURVE certificates on disk in czmq's `zcert` format, so that Zyre users keep
//! theirs: `NAME` holds the public key, `NAME_secret` the key pair (written
//! readable by its owner only), both in ZPL text:
//!
//! ```text
//! metadata
//!     name = "alice"
//! curve
//!     public-key = "7J?CoTmbcEo@g=Y4:=kyXh[g%KalTG.=^ltlzg7*"
//!     secret-key = "/98is6lDmjc&=jUQ!elctvbuEJ4xzbiRg!-=2UJB"
//! ```
//!
//! A directory of public certificates (czmq's `zcertstore`, as `zauth` reads it)
//! is an allow-list: [`load_dir`].

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::engine::curve::{CurveKeys, KEY_LEN};
use crate::wire::z85;

/// Certificates larger than this are not read: they are a few hundred bytes.
const MAX_CERT: u64 = 64 << 10;

fn invalid(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

/// The value of `key = "..."` in the `curve` section of ZPL `text`.
fn curve_value(text: &str, key: &str) -> Option<String> {
    let mut in_curve = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') && !line.starts_with('\t') {
            in_curve = trimmed == "curve";
            continue;
        }
        if !in_curve {
            continue;
        }
        let Some((k, v)) = trimmed.split_once('=') else {
            continue;
        };
        if k.trim() == key {
            return Some(v.trim().trim_matches('"').to_string());
        }
    }
    None
}

fn read_small(path: &Path) -> io::Result<String> {
    if fs::metadata(path)?.len() > MAX_CERT {
        return Err(invalid(path, "too large for a certificate"));
    }
    fs::read_to_string(path)
}

fn key_in(text: &str, name: &str, path: &Path) -> io::Result<[u8; KEY_LEN]> {
    let z = curve_value(text, name).ok_or_else(|| invalid(path, &format!("no {name}")))?;
    z85::decode_key(&z).ok_or_else(|| invalid(path, &format!("{name} is not 40 Z85 characters")))
}

/// The public key of the certificate at `path`.
pub fn load_public(path: &Path) -> io::Result<[u8; KEY_LEN]> {
    key_in(&read_small(path)?, "public-key", path)
}

/// The key pair of the certificate at `path`: read from `path` if it holds the
/// secret key, else from `path_secret` (as czmq's `zcert_load`). The public key
/// written there must be the secret key's.
pub fn load(path: &Path) -> io::Result<CurveKeys> {
    let mut text = read_small(path)?;
    let mut from = path.to_path_buf();
    if curve_value(&text, "secret-key").is_none() {
        from = secret_path(path);
        text = read_small(&from)?;
    }
    let keys = CurveKeys::from_secret(key_in(&text, "secret-key", &from)?);
    if &key_in(&text, "public-key", &from)? != keys.public() {
        return Err(invalid(&from, "the public key is not the secret key's"));
    }
    Ok(keys)
}

fn secret_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push("_secret");
    PathBuf::from(s)
}

/// Saves `keys` as czmq does: the public certificate at `path`, the secret one at
/// `path_secret`, created readable and writable by its owner only.
pub fn save(keys: &CurveKeys, name: &str, path: &Path) -> io::Result<()> {
    let public = z85::encode(keys.public()).expect("32 bytes");
    let secret = z85::encode(keys.secret()).expect("32 bytes");
    let name = name.replace(['"', '\n'], "");
    fs::write(
        path,
        format!(
            "#   ZeroMQ CURVE Public Certificate\n\
             #   Exchange securely, or use a secure mechanism to verify the contents\n\
             #   of this file after exchange.\n\n\
             metadata\n    name = \"{name}\"\ncurve\n    public-key = \"{public}\"\n"
        ),
    )?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // An existing file keeps its mode through open(): set it too.
        if let Ok(meta) = fs::metadata(secret_path(path)) {
            let mut p = meta.permissions();
            p.set_mode(0o600);
            fs::set_permissions(secret_path(path), p)?;
        }
    }
    let mut f = options.open(secret_path(path))?;
    write!(
        f,
        "#   ZeroMQ CURVE **Secret** Certificate\n\
         #   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n\
         metadata\n    name = \"{name}\"\ncurve\n    public-key = \"{public}\"\n    secret-key = \"{secret}\"\n"
    )
}

/// The public keys of the certificates in `dir` (czmq's certificate store): every
/// file but `*_secret` ones. A file that is not a certificate is an error.
pub fn load_dir(dir: &Path) -> io::Result<Vec<[u8; KEY_LEN]>> {
    let mut keys = Vec::new();
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| !p.to_string_lossy().ends_with("_secret"))
        .collect();
    paths.sort();
    for p in paths {
        keys.push(load_public(&p)?);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by czmq 4.2's `zcert_save`.
    const CZMQ_SECRET: &str = "#   ****  Generated on 2026-12-03 17:17:55 by CZMQ  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

metadata
    name = \"alice\"
curve
    public-key = \"7J?CoTmbcEo@g=Y4:=kyXh[g%KalTG.=^ltlzg7*\"
    secret-key = \"/98is6lDmjc&=jUQ!elctvbuEJ4xzbiRg!-=2UJB\"
";

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("zmesh-cert-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn reads_czmq_certificates_and_derives_the_same_public_key() {
        let d = dir("czmq");
        fs::write(d.join("alice.cert_secret"), CZMQ_SECRET).unwrap();
        let public = CZMQ_SECRET.replace(
            "    secret-key = \"/98is6lDmjc&=jUQ!elctvbuEJ4xzbiRg!-=2UJB\"\n",
            "",
        );
        fs::write(d.join("alice.cert"), public).unwrap();
        // czmq's key pair: our X25519 gives the public key czmq wrote.
        let keys = load(&d.join("alice.cert")).unwrap();
        assert_eq!(
            z85::encode(keys.public()).unwrap(),
            "7J?CoTmbcEo@g=Y4:=kyXh[g%KalTG.=^ltlzg7*"
        );
        assert_eq!(load_dir(&d).unwrap(), vec![*keys.public()]);
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn saves_what_it_loads_with_the_secret_for_its_owner_only() {
        let d = dir("save");
        let keys = CurveKeys::from_secret([7; 32]);
        save(&keys, "bob", &d.join("bob")).unwrap();
        assert_eq!(load(&d.join("bob")).unwrap(), keys);
        assert_eq!(load_public(&d.join("bob")).unwrap(), *keys.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(d.join("bob_secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A secret whose public key does not match is refused; so is junk.
        let bad = CZMQ_SECRET.replace("7J?Co", "8J?Co");
        fs::write(d.join("bad_secret"), bad).unwrap();
        fs::write(d.join("bad"), "metadata\n").unwrap();
        assert!(load(&d.join("bad")).is_err());
        assert!(load_dir(&d).is_err(), "a file that is not a certificate");
        fs::remove_dir_all(d).unwrap();
    }
}
