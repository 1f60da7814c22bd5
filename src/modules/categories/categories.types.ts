/** GraphQL type for categories (read side: the labels of an email). */
import { Field, ID, ObjectType } from '../type-graphql.js';

@ObjectType('Category', { description: 'A label of emails (set by hand or by a categorization rule)' })
export class CategoryType {
  @Field(() => ID) id!: number;
  @Field(() => String) name!: string;
  @Field(() => String) slug!: string;
  @Field(() => String, { nullable: true }) color!: string | null;
}
