//! `meshctl`: see [`mesh_controller::meshctl`].

fn main() -> std::process::ExitCode {
    mesh_controller::meshctl::main()
}
