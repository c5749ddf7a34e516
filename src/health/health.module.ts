import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { RepositoryModule } from '../repository/repository.module.js';
import { HealthController } from './health.controller.js';

@Module({
  controllers: [HealthController],
  imports: [TerminusModule.forRoot({ logger: false }), RepositoryModule],
})
export class HealthModule {}
