#!/usr/bin/env node
/** The `gnnrl` command line. */
import { doctorReport, formatDoctor } from './doctor.js';

const HELP = `usage: gnnrl <command> [options]

commands:
  doctor [--json]   what this machine offers: backend, adapter, limits, native addon
  train [options]   train and evaluate models, write checkpoints, metrics and curves (train --help)
  rl [options]      train and evaluate RL agents in the user simulator, with fixed baselines (rl --help)
  ope [options]     off-policy estimates (IPS, SNIPS, DR) of policies from a propensity log, beside their true value (ope --help)
  serve [options]   serve a trained model over HTTP with online updates (serve --help)
  generate [options]  write the synthetic world as a MovieLens-100K folder with side files (generate --help)
  help              this text

environment:
  GNNRL_BACKEND=auto|webgpu|native|cpu   force a backend
  GNNRL_REQUIRE_GPU=1             a missing WebGPU adapter is an error
  GNNRL_DEBUG=1                   one submit per dispatch; validation errors name the kernel
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'doctor': {
      const report = await doctorReport();
      console.log(rest.includes('--json') ? JSON.stringify(report, null, 2) : formatDoctor(report));
      return report.ok ? 0 : 1;
    }
    case 'train':
      // Loaded on demand: `doctor` and `help` need none of the training stack.
      return (await import('./train.js')).trainCommand(rest);
    case 'rl':
      return (await import('./rl.js')).rlCommand(rest);
    case 'serve':
      return (await import('./serve.js')).serveCommand(rest);
    case 'ope':
      return (await import('./ope.js')).opeCommand(rest);
    case 'generate':
      return (await import('./generate.js')).generateCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`gnnrl: unknown command '${cmd}'\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? `gnnrl: ${err.message}` : err);
    process.exitCode = 1;
  },
);
