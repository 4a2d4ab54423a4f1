//! The program entrypoint: no allocator, a `no_std` panic handler, and dispatch to [`crate::processor`].

use pinocchio::{no_allocator, nostd_panic_handler, program_entrypoint};

program_entrypoint!(crate::processor::process_instruction);
nostd_panic_handler!();
no_allocator!();
