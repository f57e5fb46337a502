/** Every `opulab` subcommand, in the order `opulab --help` lists them. */
import type { CommandModule } from 'yargs';
import { demoCommand } from './demo';
import { trainCommand } from './train';
import { attackCommand } from './attack';
import { transferCommand } from './transfer';
import { runCommand, mergeCommand } from './run';
import { reportCommand } from './report';
import { listCommand } from './list';
import { dataCommand } from './data';
import { probeCommand } from './probe';
import { exportCommand } from './export';

// yargs' CommandModule generics differ per command; the array only needs the common shape.
export const commands = [demoCommand, trainCommand, attackCommand, transferCommand, runCommand, mergeCommand, reportCommand, probeCommand, exportCommand, listCommand, dataCommand] as unknown as CommandModule[];
