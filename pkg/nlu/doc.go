// Package nlu understands what a callee said: intents, slots, sentiment, FAQ answers and turn-taking hints (zh and en).
package nlu
