export * from "./SlirpOptions.js"
