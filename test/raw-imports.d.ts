// Vite's ?raw imports (a file's text), which the test pool resolves: README.md's stated facts are checked against the code.
declare module "*?raw" {
  const text: string;
  export default text;
}
