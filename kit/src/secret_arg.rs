//! Secret settings on the command line: clap's side of [`moolai_proto::secret`].

use moolai_proto::secret::Secret;

/// clap parser for a secret setting: refuses it with the rule it breaks and the
/// setting's name, but never echoes the value (a log file may keep the error).
#[derive(Clone)]
pub struct SecretArg(pub fn(&str) -> Result<Secret, String>);

impl clap::builder::TypedValueParser for SecretArg {
    type Value = Secret;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Secret, clap::Error> {
        let name = arg.map(ToString::to_string).unwrap_or_default();
        let refused = |why: String| {
            let kind = clap::error::ErrorKind::ValueValidation;
            clap::Error::raw(kind, format!("{name} refused: {why}\n")).with_cmd(cmd)
        };
        let text = value.to_str().ok_or_else(|| refused("not UTF-8".into()))?;
        (self.0)(text).map_err(refused)
    }
}
