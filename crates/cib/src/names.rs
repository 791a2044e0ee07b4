//! Names from the CIB that crm-lite turns into paths: an agent's `provider` and `type`
//! (`<OCF_ROOT>/resource.d/<provider>/<type>`, `<fence_dir>/<type>`), a node's `uname`
//! (its `HA_RSCTMP` and attribute directory) and a resource's id (agents' score and
//! runtime files). Each must stay one component of a path inside the directory crm-lite
//! meant, whatever the CIB says. These are the only checks: the lowering
//! ([`crate::parse`]), [`crate::Parsed::check_runnable`] and the executor's agent lookup
//! all call them.

/// A `provider` or `type` that is not an agent's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} '{value}' is not an agent name (only letters, digits and _ . : - are allowed, \
     and not ..)"
)]
pub struct AgentNameError {
    /// `provider` or `type`.
    pub what: &'static str,
    /// The value as written.
    pub value: String,
}

/// A node name that cannot be one component of a path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "node name '{value}' cannot be used: crm-lite keeps files per node in a directory named \
     after it, so a name must not be empty, contain / or .., or control characters"
)]
pub struct NodeNameError {
    /// The name as written.
    pub value: String,
}

/// A resource id that is not an XML ID (Pacemaker's schema declares resource ids
/// `xsd:ID`, so `crm_verify` refuses it as well).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "resource id '{value}' is not a valid id (a letter or _ first, then letters, digits \
     and _ . -): agents name files after it"
)]
pub struct ResourceIdError {
    /// The id as written.
    pub value: String,
}

/// Check a resource id: an XML name without `:` (xsd:NCName), so never a path.
pub fn check_resource_id(value: &str) -> Result<(), ResourceIdError> {
    let mut chars = value.chars();
    let ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ResourceIdError {
            value: value.to_owned(),
        })
    }
}

/// Check one part of an agent's name (`what`: `provider` or `type`): `[A-Za-z0-9_.:-]+`,
/// without `..` and not `.`.
pub fn check_agent_name(what: &'static str, value: &str) -> Result<(), AgentNameError> {
    let ok = !value.is_empty()
        && value != "."
        && !value.contains("..")
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AgentNameError {
            what,
            value: value.to_owned(),
        })
    }
}

/// Check an OCF agent's `provider` (when it has one) and `type`.
pub fn check_agent(provider: Option<&str>, agent: &str) -> Result<(), AgentNameError> {
    if let Some(p) = provider {
        check_agent_name("provider", p)?;
    }
    check_agent_name("type", agent)
}

/// Check a node name: non-empty, not `.`, no `/`, no `..`, no control characters.
pub fn check_node_name(value: &str) -> Result<(), NodeNameError> {
    let ok = !value.is_empty()
        && value != "."
        && !value.contains("..")
        && !value.chars().any(|c| c == '/' || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(NodeNameError {
            value: value.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names_are_single_path_components() {
        for good in ["Dummy", "heartbeat", "fence_xvm", "IPaddr2", "a.b-c:d_e"] {
            assert_eq!(check_agent_name("type", good), Ok(()), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../../../../bin/true",
            "/bin/true",
            "a/b",
            "a..b",
            "sp ace",
            "tab\t",
            "x\0y",
            "é",
            "$(id)",
        ] {
            let e = check_agent_name("type", bad).expect_err(bad);
            assert_eq!(e.value, bad);
        }
        let e = check_agent(Some("../x"), "Dummy").expect_err("provider");
        assert_eq!(e.what, "provider");
        assert!(
            e.to_string()
                .contains("provider '../x' is not an agent name")
        );
        assert_eq!(check_agent(None, "fence_xvm"), Ok(()));
    }

    #[test]
    fn resource_ids_are_xml_ids() {
        for good in ["vip", "db-clone", "_x", "a.b_c-1", "ré"] {
            assert_eq!(check_resource_id(good), Ok(()), "{good}");
        }
        for bad in ["", "1st", "-x", ".x", "a/b", "../x", "a:0", "a b", "x\ny"] {
            assert!(check_resource_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn node_names_cannot_leave_their_directory() {
        for good in ["node1", "db-1.example.com", "NODE_2", "x y"] {
            assert_eq!(check_node_name(good), Ok(()), "{good}");
        }
        for bad in ["", ".", "..", "../etc", "a/b", "/abs", "a..b", "new\nline"] {
            assert!(check_node_name(bad).is_err(), "{bad:?}");
        }
    }
}
