/** GraphQL types for accounts. Explicit type functions everywhere (no emitDecoratorMetadata). */
import { Field, ID, InputType, Int, ObjectType } from '../type-graphql.js';
import { DateTimeISOResolver } from 'graphql-scalars';

@ObjectType('FolderCount')
export class FolderCountType {
  @Field(() => String) folder!: string;
  @Field(() => Int) count!: number;
}

@ObjectType('AccountStats')
export class AccountStatsType {
  @Field(() => Int) totalEmails!: number;
  @Field(() => Int) unreadEmails!: number;
  @Field(() => Int) withAttachments!: number;
  @Field(() => [FolderCountType]) byFolder!: FolderCountType[];
  @Field(() => DateTimeISOResolver, { nullable: true }) latestEmailAt!: Date | null;
  @Field(() => DateTimeISOResolver, { nullable: true }) oldestEmailAt!: Date | null;
}

@ObjectType('Account', { description: 'An IMAP mail account. The password is never exposed.' })
export class AccountType {
  @Field(() => ID) id!: number;
  @Field(() => String) name!: string;
  @Field(() => String) email!: string;
  @Field(() => String) host!: string;
  @Field(() => Int) port!: number;
  @Field(() => String) username!: string;
  @Field(() => String, { description: 'ssl (implicit TLS), tls (STARTTLS) or none' }) encryption!: string;
  @Field(() => Boolean) isActive!: boolean;
  @Field(() => [String]) syncFolders!: string[];
  @Field(() => String, { description: 'What deleting an email does on the server: trash (move to Trash) or expunge' }) deleteMode!: string;
  @Field(() => Boolean, { description: 'Whether the last connection attempt succeeded' }) connected!: boolean;
  @Field(() => DateTimeISOResolver, { nullable: true }) lastSyncAt!: Date | null;
  @Field(() => String, { nullable: true }) lastError!: string | null;
  @Field(() => DateTimeISOResolver, { nullable: true, description: 'Set when the server rejected the credentials: sync waits for an update' })
  syncPausedAt!: Date | null;
  @Field(() => DateTimeISOResolver) createdAt!: Date;
  @Field(() => DateTimeISOResolver) updatedAt!: Date;
}

@ObjectType('Folder')
export class FolderType {
  @Field(() => String) name!: string;
  @Field(() => String) path!: string;
  @Field(() => Int) messages!: number;
  @Field(() => Int) unseen!: number;
}

@ObjectType('ConnectionTest')
export class ConnectionTestType {
  @Field(() => Boolean) connected!: boolean;
  @Field(() => [String]) folders!: string[];
  @Field(() => String) message!: string;
}

@InputType('CreateAccountInput')
export class CreateAccountInputType {
  @Field(() => String) name!: string;
  @Field(() => String) email!: string;
  @Field(() => String) host!: string;
  @Field(() => Int) port!: number;
  @Field(() => String) username!: string;
  @Field(() => String) password!: string;
  @Field(() => String, { nullable: true, description: 'ssl | tls | none (default ssl)' }) encryption?: 'ssl' | 'tls' | 'none';
  @Field(() => Boolean, { nullable: true }) isActive?: boolean;
  @Field(() => [String], { nullable: true }) syncFolders?: string[];
  @Field(() => String, { nullable: true, description: 'trash | expunge (default trash)' }) deleteMode?: 'trash' | 'expunge';
  @Field(() => Boolean, { nullable: true, description: 'Refuse to save when a connection test fails' }) testConnection?: boolean;
}

@InputType('UpdateAccountInput')
export class UpdateAccountInputType {
  @Field(() => String, { nullable: true }) name?: string;
  @Field(() => String, { nullable: true }) email?: string;
  @Field(() => String, { nullable: true }) host?: string;
  @Field(() => Int, { nullable: true }) port?: number;
  @Field(() => String, { nullable: true }) username?: string;
  @Field(() => String, { nullable: true, description: 'Only changed when given' }) password?: string;
  @Field(() => String, { nullable: true }) encryption?: 'ssl' | 'tls' | 'none';
  @Field(() => Boolean, { nullable: true }) isActive?: boolean;
  @Field(() => [String], { nullable: true }) syncFolders?: string[];
  @Field(() => String, { nullable: true, description: 'trash | expunge' }) deleteMode?: 'trash' | 'expunge';
  @Field(() => Boolean, { nullable: true }) testConnection?: boolean;
}
