//! Key names: prefixed, namespaced per connector and tenant, and hash-tagged
//! so that every key one script touches lives in one Redis Cluster slot
//! while different tenants and quotas spread over the masters.

/// Builds the keys of one fleet.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Keys {
            prefix: escape(prefix),
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The hash of a rate key's quota states: `<prefix>:rate:{<key>}`.
    pub(crate) fn rate(&self, key: &str) -> String {
        format!("{}:rate:{{{}}}", self.prefix, escape(key))
    }

    /// The hash tag of a namespace's tenant: every token key of one tenant
    /// (token, lock, refresh token) shares it, so a script may touch them all.
    fn tenant_tag(namespace: &str, tenant: Option<&str>) -> String {
        match tenant {
            // `=` marks a tenant, `~` the calls without one: never confused.
            Some(tenant) => format!("{{{}:={}}}", escape(namespace), escape(tenant)),
            None => format!("{{{}:~}}", escape(namespace)),
        }
    }

    /// `<prefix>:tok:{<namespace>:<tenant>}:<what>`.
    pub(crate) fn token(&self, namespace: &str, tenant: Option<&str>, what: &str) -> String {
        format!(
            "{}:tok:{}:{what}",
            self.prefix,
            Self::tenant_tag(namespace, tenant)
        )
    }

    /// `<prefix>:sig:{<connector>}:<what>`.
    pub(crate) fn signal(&self, connector: &str, what: &str) -> String {
        format!("{}:sig:{{{}}}:{what}", self.prefix, escape(connector))
    }
}

/// Percent-escapes the characters that would end a hash tag or a key part
/// (`{`, `}`, `:`, `%`) and control characters, so no user text can move a
/// key into another's slot or namespace.
pub(crate) fn escape(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for c in part.chars() {
        match c {
            '{' | '}' | ':' | '%' => out.push_str(&format!("%{:02X}", c as u32)),
            c if c.is_control() => out.push_str(&format!("%{:02X}", c as u32 & 0xff)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_cannot_break_out_of_its_tag() {
        let keys = Keys::new("app");
        assert_eq!(keys.rate("acme\u{1f}/v1/x"), "app:rate:{acme%1F/v1/x}");
        assert_eq!(
            keys.token("crm", Some("a}b:c"), "at"),
            "app:tok:{crm:=a%7Db%3Ac}:at"
        );
        assert_ne!(keys.token("crm", None, "at"), keys.token("crm", Some("~"), "at"));
        assert_ne!(keys.token("crm", None, "at"), keys.token("crm", Some(""), "at"));
        assert_eq!(Keys::new("a{b").rate("k"), "a%7Bb:rate:{k}");
    }
}
