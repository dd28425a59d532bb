//! `vouch-gitsign`: the program git runs as `gpg.x509.program` (gpgsm interface).

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::ExitCode::from(vouch_gitsign::gpg::run(&args))
}
