//! Clients for the targets steps name (`target: {region, project_id, credentials}`), built
//! the way the run's own client is: against Huawei Cloud from the environment's keys, or
//! against the run's in-process sandbox with the scenario's keys.

use hwc_client::runtime::Secret;
use hwc_client::{Credentials, Environment, TransportConfig};
use runbook_runner::targets::{Reached, TargetSpec, Targets};

/// Reads one environment variable (injected, so tests need not set the process's).
pub type Lookup = std::sync::Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A step's target is the run's with the step's fields in place of the run's.
pub struct StepTargets {
    /// The run's own client's configuration.
    pub base: TransportConfig,
    pub environment: Environment,
    pub keys: Keys,
}

/// Where a target's keys come from.
pub enum Keys {
    /// Huawei Cloud (or `--endpoint`): `credentials: PREFIX` reads `PREFIX_AK` and
    /// `PREFIX_SK`; without it, the run's keys.
    Environment(Lookup),
    /// The in-process sandbox: a project acts with its own first key, as the run does, and
    /// `credentials` names nothing (the environment's keys are not the sandbox's).
    Scenario(hwc_sandbox::Scenario),
}

impl Targets for StepTargets {
    fn reach(&self, target: &TargetSpec) -> Result<Reached, String> {
        let mut config = self.base.clone();
        if let Some(region) = &target.region {
            if *region != config.region {
                // The runbook's per-service endpoints are the run's region's.
                config.service_endpoints.clear();
                config.region = region.clone();
            }
            if target.project_id.is_none() {
                return Err(format!("region {region} needs its project_id"));
            }
        }
        if let Some(project_id) = &target.project_id {
            config.project_id = Some(project_id.clone());
        }
        let keys = match (&self.keys, &target.credentials, &target.project_id) {
            (Keys::Environment(lookup), Some(prefix), _) => {
                config.credentials = prefixed_credentials(prefix, &**lookup)?;
                format!("credentials {prefix}_*")
            }
            (Keys::Environment(_), None, _) => "the run's credentials".to_owned(),
            (Keys::Scenario(scenario), _, Some(project_id)) => {
                config.credentials = scenario_key(scenario, project_id)?;
                "the scenario's key for it".to_owned()
            }
            (Keys::Scenario(_), _, None) => "the run's key".to_owned(),
        };
        let secrets = config
            .credentials
            .secrets()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let place = match &config.endpoint_override {
            Some(endpoint) => format!("{endpoint} as region {}", config.region),
            None => format!("Huawei Cloud region {}", config.region),
        };
        let project = config.project_id.clone().unwrap_or_default();
        Ok(Reached {
            client: crate::connect::build(config, self.environment.clone())?,
            secrets,
            description: format!("{place}, project {project}, {keys}"),
        })
    }
}

/// The first key of the scenario's project `wanted`.
pub fn scenario_key(scenario: &hwc_sandbox::Scenario, wanted: &str) -> Result<Credentials, String> {
    let project = scenario
        .projects
        .iter()
        .find(|project| project.id == wanted)
        .ok_or_else(|| format!("the sandbox's scenario has no project {wanted}"))?;
    let key = project
        .credentials
        .first()
        .ok_or_else(|| format!("project {wanted} of the scenario has no credentials"))?;
    Ok(Credentials::AkSk {
        ak: key.ak.clone(),
        sk: Secret::new(key.sk.clone()),
        security_token: None,
    })
}

/// `PREFIX_AK` and `PREFIX_SK` (and `PREFIX_SECURITY_TOKEN`), or `PREFIX_AUTH_TOKEN`: the
/// SDK's variables with the prefix in place of `HUAWEICLOUD_SDK`.
fn prefixed_credentials(
    prefix: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Credentials, String> {
    let renamed = |name: &str| {
        let (_, rest) = name.split_once("SDK_")?;
        lookup(&format!("{prefix}_{rest}"))
    };
    Credentials::from_lookup(renamed).map_err(|_| {
        format!(
            "credentials {prefix}: set {prefix}_AK and {prefix}_SK (or {prefix}_AUTH_TOKEN) in the environment"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_reads_its_own_variables_and_says_which_are_missing() {
        let env = |name: &str| match name {
            "PROD_EU_AK" => Some("AK2".to_owned()),
            "PROD_EU_SK" => Some("SK2".to_owned()),
            "HUAWEICLOUD_SDK_AK" => Some("AK1".to_owned()),
            _ => None,
        };
        let credentials = prefixed_credentials("PROD_EU", &env).unwrap();
        assert_eq!(credentials.secrets(), vec!["SK2"]);
        let error = prefixed_credentials("STAGING", &env).unwrap_err();
        assert_eq!(
            error,
            "credentials STAGING: set STAGING_AK and STAGING_SK (or STAGING_AUTH_TOKEN) in the environment"
        );
    }
}
