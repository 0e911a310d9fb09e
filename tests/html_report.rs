//! Renders the HTML report of real runs (the `reference` model and recorded answers, scored by
//! the real binary) in headless Chromium and checks the screenshot shows a picture.
//!
//! Without Chromium the test says it skipped, except under CI (`CI=true`), where it fails.

#[path = "support/project.rs"]
mod project;

use cargo_llm_bench::optimize::{rank, Candidate, Policy};
use cargo_llm_bench::report::{render_html, Report};
use project::Project;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The report's page background, and the colour its first model has everywhere.
const BACKGROUND: [u8; 3] = [0xff, 0xff, 0xff];
const FIRST_MODEL_COLOUR: [u8; 3] = [0x4e, 0x79, 0xa7];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The reports of the fixture suite, answered by `reference` and by the recorded answers.
fn reports_of_real_runs(project: &Project) -> Vec<Report> {
    let suite = fixtures().join("suites/fixture.yaml").display().to_string();
    let replay = format!("replay:{}", fixtures().join("replay").display());
    let output = project.run(&[
        "--suite",
        &suite,
        "--model",
        "reference",
        "--model",
        &replay,
        "--format",
        "json",
        "--no-progress",
    ]);
    assert!(
        output.status.code().is_some_and(|code| code <= 1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the printed reports parse")
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs Chromium to a screenshot, killing it if it hangs.
fn screenshot(chromium: &Path, page: &Path, png: &Path, profile: &Path) {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--window-size=1200,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child
            .try_wait()
            .expect("chromium can be waited for")
            .is_some()
        {
            return;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("chromium took over two minutes for a screenshot");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The RGB pixels of a PNG.
fn pixels(png: &Path) -> Vec<[u8; 3]> {
    let file = std::fs::File::open(png).expect("chromium wrote the screenshot");
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("the screenshot is a PNG");
    let mut buffer = vec![0; reader.output_buffer_size().expect("a sane size")];
    let frame = reader.next_frame(&mut buffer).expect("the PNG decodes");
    let channels = frame.color_type.samples();
    assert!(
        channels >= 3,
        "a colour screenshot, not {:?}",
        frame.color_type
    );
    buffer[..frame.buffer_size()]
        .chunks_exact(channels)
        .map(|pixel| [pixel[0], pixel[1], pixel[2]])
        .collect()
}

fn near(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
}

#[test]
fn the_report_of_real_runs_opens_offline_and_renders_as_a_picture() {
    let project = Project::new();
    let reports = reports_of_real_runs(&project);
    assert_eq!(reports.len(), 2);
    let ranking = rank(
        reports
            .iter()
            .map(|report| Candidate::from_report(report, None))
            .collect(),
        Policy::BestScore,
    );
    let html = render_html(&reports, Some(&ranking));

    // Offline: nothing is fetched, whatever runs the page.
    for fetches in ["<script", " src=", "@import", "url(", "<link"] {
        assert!(!html.contains(fetches), "the page fetches with {fetches}");
    }
    // The recorded answers break compiles, so the error codes have something to count.
    assert!(html.contains(">E0"), "no rustc error code in the report");

    let Some(chromium) = chromium() else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI must install chromium to check the HTML report"
        );
        eprintln!("skipped: no chromium to render the HTML report with");
        return;
    };
    let page = project.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let png = project.path().join("report.png");
    screenshot(
        &chromium,
        &page,
        &png,
        &project.path().join("chromium-profile"),
    );

    let pixels = pixels(&png);
    assert!(pixels.len() >= 1000 * 1000, "{} pixels", pixels.len());
    let drawn = pixels
        .iter()
        .filter(|pixel| !near(**pixel, BACKGROUND, 8))
        .count();
    assert!(
        drawn * 100 >= pixels.len() * 4,
        "only {drawn} of {} pixels are not background",
        pixels.len()
    );
    let colours: HashSet<[u8; 3]> = pixels
        .iter()
        .map(|pixel| pixel.map(|channel| channel >> 4))
        .collect();
    assert!(
        colours.len() >= 12,
        "only {} distinct colours",
        colours.len()
    );
    let first_model = pixels
        .iter()
        .filter(|pixel| near(**pixel, FIRST_MODEL_COLOUR, 6))
        .count();
    assert!(
        first_model >= 200,
        "the first model's colour covers only {first_model} pixels"
    );
    if let Some(keep) = std::env::var_os("LLM_BENCH_KEEP_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
}
