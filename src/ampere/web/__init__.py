"""What the people-facing interfaces (console, portal) share: the base layout, the component
set, the formatting filters, and the middleware that sets a person's local time and language.

It sits below the interfaces and above the domains: it may import domains' queries, never an
interface."""
