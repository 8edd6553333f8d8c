#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `runbook sandbox serve` as a process: it prints where it listens, answers a signed request
//! from the generated client, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use hwc_client::operations::ExecuteWorkflowParams;
use hwc_client::runtime::{Credentials, Secret};
use hwc_client::{Client, Transport, TransportConfig};

#[tokio::test]
async fn serves_until_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .args(["sandbox", "serve", "--listen", "127.0.0.1:0", "--seed", "5"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("sandbox listening on ")
        .expect(&first)
        .to_owned();
    let banner: Vec<String> = lines
        .by_ref()
        .take_while(|l| l.as_ref().is_ok_and(|l| !l.starts_with("stop with")))
        .map(Result::unwrap)
        .collect();
    assert!(
        banner
            .iter()
            .any(|l| l.contains("HUAWEICLOUD_SDK_AK=SANDBOXAKEXAMPLE0001")),
        "{banner:?}"
    );

    let mut config = TransportConfig::new(
        "cn-north-4",
        Credentials::AkSk {
            ak: "SANDBOXAKEXAMPLE0001".into(),
            sk: Secret::new("sandbox-secret-key-0001"),
            security_token: None,
        },
    );
    config.project_id = Some("0a1b2c3d4e5f60718293a4b5c6d7e8f9".into());
    config.endpoint_override = Some(url::Url::parse(&url).unwrap());
    let client = Client::new(Transport::builder(config).build().unwrap());
    let started = client
        .execute_workflow(&ExecuteWorkflowParams {
            workflow_id: "wf-success".into(),
        })
        .await
        .unwrap();
    assert!(started.body.execution_id.is_some());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn a_bad_scenario_file_is_reported_with_its_location() {
    let dir = std::env::temp_dir().join(format!("runbook-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.yaml");
    std::fs::write(
        &path,
        "projects:\n  - id: 0123456789abcdef0123456789abcdef\n    color: blue\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .args(["sandbox", "serve", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:3:", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("color"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}
