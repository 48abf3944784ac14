"""Upstream inference code of the fine-tuned judges, transcribed for golden tests.

Each function builds the final prompt string exactly as the named upstream file does
(repo@commit, path), from that repository's text; the tests compare our presets'
final strings (after layout and chat template) with these, byte for byte. Chat
templates are the upstream models' Jinja templates, written out here because the
tests run on the SmolLM2 GGUF, whose own template is ChatML.

Facts to match, not our code: nothing in ``judge/`` imports this module.
"""

from __future__ import annotations

# -- chat templates of the upstream base models --------------------------------------------

MISTRAL_V02_TEMPLATE = (
    # mistralai/Mistral-7B-Instruct-v0.2 tokenizer_config.json chat_template (the base of
    # Prometheus 2): a system role is refused with "Conversation roles must alternate".
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
    "{% endif %}{% endfor %}"
)

LLAMA3_TEMPLATE = (
    # meta-llama/Meta-Llama-3-8B-Instruct tokenizer_config.json chat_template (the base of
    # Llama-3-OffsetBias-8B; Selene-1-Mini is Llama-3.1, whose template adds a dated
    # system block when given tools or a system message, neither used here).
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)


def llama3_prompt(bos_token: str, user: str) -> str:
    """LLAMA3_TEMPLATE applied to one user message, with the generation prompt."""
    return (
        f"{bos_token}<|start_header_id|>user<|end_header_id|>\n\n{user.strip()}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


# -- PandaLM ----------------------------------------------------------------------------------


def pandalm_prompt(instruction: str, input_text: str, resp1: str, resp2: str) -> str:
    """WeOpenML/PandaLM@68238877d37171ffc5f8f55fbbbb711c058e6456
    pandalm/utils/pandalm_inference.py ``build_pandalm_prompt`` (its special-token filter
    changes nothing on these items), sent as one string: ``tokenizer(prompt)``."""
    rsp = f"### Response 1:\n{resp1.strip()}\n\n### Response 2:\n{resp2.strip()}"
    if input_text:
        return (
            "Below are two responses for a given task. The task is defined by the Instruction "
            "with an Input that provides further context. Evaluate the responses and generate a "
            f"reference answer for the task.\n\n### Instruction:\n{instruction}\n\n### Input:\n"
            f"{input_text}\n\n{rsp}\n\n### Evaluation:\n"
        )
    return (
        "Below are two responses for a given task. The task is defined by the Instruction. "
        "Evaluate the responses and generate a reference answer for the task.\n\n"
        f"### Instruction:\n{instruction}\n\n{rsp}\n\n### Evaluation:\n"
    )


# -- JudgeLM ----------------------------------------------------------------------------------

JUDGELM_SYSTEM = "You are a helpful and precise assistant for checking the quality of the answer."
JUDGELM_PROMPT = (
    "We would like to request your feedback on the performance of two AI assistants in "
    "response to the user question displayed above.\nPlease rate the helpfulness, relevance, "
    "accuracy, level of details of their responses. Each assistant receives an overall score "
    "on a scale of 1 to 10, where a higher score indicates better overall performance.\n"
    "Please first output a single line containing only two values indicating the scores for "
    "Assistant 1 and 2, respectively. The two scores are separated by a space. In the "
    "subsequent line, please provide a comprehensive explanation of your evaluation, avoiding "
    "any potential bias and ensuring that the order in which the responses were presented "
    "does not affect your judgment."
)
JUDGELM_TEMPLATE = (
    "[Question]\n{question}\n\n[The Start of Assistant 1's Answer]\n{answer_1}\n\n"
    "[The End of Assistant 1's Answer]\n\n[The Start of Assistant 2's Answer]\n{answer_2}\n\n"
    "[The End of Assistant 2's Answer]\n\n[System]\n{prompt}\n\n"
)
JUDGELM_TEMPLATE_W_REFERENCE = JUDGELM_TEMPLATE.replace(
    "{question}\n\n", "{question}\n\n[Reference Answer]\n{reference}\n\n"
)


def judgelm_prompt(question: str, answer_1: str, answer_2: str, reference: str | None) -> str:
    """baaivision/JudgeLM@636c5c73d499ef373ed0a9f54776405cfa32b798
    judgelm/llm_judge/gen_model_judgement.py: ``conv.system + '\\n' + template.format(...)
    + conv.appendix`` (conv_judge_pair[_w_reference] of @0da7c2210d5d84b207d45d83c9c562136e2a5403
    common.py, appendix ``### Response:``), tokenized with BOS (``input_ids[0][0] = 1``)."""
    template = JUDGELM_TEMPLATE if reference is None else JUDGELM_TEMPLATE_W_REFERENCE
    return (
        JUDGELM_SYSTEM
        + "\n"
        + template.format(
            question=question,
            reference=reference,
            answer_1=answer_1,
            answer_2=answer_2,
            prompt=JUDGELM_PROMPT,
        )
        + "### Response:"
    )


# -- Auto-J -----------------------------------------------------------------------------------
# GAIR-NLP/auto-j@5e280beeedf64d631d0d6acf1808bf00ad86c69b codes/usage/constants_prompt.py;
# codes/usage/example.py @7b7ddd7a8373d3da3c8fab11fcd1486587a85770 sends the string to vLLM,
# whose Llama-2 tokenizer adds the BOS.

AUTOJ_SINGLE = """Write critiques for a submitted response on a given user's query, and grade the response:
  
[BEGIN DATA]
***
[Query]: {prompt}
***
[Response]: {response}
***
[END DATA]

Write critiques for this response. After that, you should give a final rating for the response on a scale of 1 to 10 by strictly following this format: "[[rating]]", for example: "Rating: [[5]]"."""  # noqa: E501, W293

AUTOJ_PAIRWISE_TIE = """You are assessing two submitted responses on a given user's query and judging which response is better or they are tied. Here is the data:

[BEGIN DATA]
***
[Query]: {prompt}
***
[Response 1]: {response}
***
[Response 2]: {response_another}
***
[END DATA]

Here are the instructions to assess and compare the two responses:

1. Pinpoint the key factors to distinguish these two responses.
2. Conclude your comparison by providing a final decision on which response is better, or they are tied. Begin your final decision statement with "So, the final decision is Response 1 / Response 2 / Tie". Ensure that your decision aligns coherently with the comprehensive evaluation and comparison you've provided."""  # noqa: E501

PROMPT_INPUT_WO_SYSTEM = "[INST] {input} [/INST]"


def autoj_prompt(prompt: str, resp1: str, resp2: str | None, protocol: str) -> str:
    """``build_autoj_input`` = ``llama2_wrapper(protocol_mapping[protocol].format(...))``."""
    template = AUTOJ_PAIRWISE_TIE if protocol == "pairwise_tie" else AUTOJ_SINGLE
    user_msg = template.format(prompt=prompt, response=resp1, response_another=resp2)
    return PROMPT_INPUT_WO_SYSTEM.format(input=user_msg)


# -- Prometheus 2 -----------------------------------------------------------------------------
# prometheus-eval/prometheus-eval libs/prometheus-eval/prometheus_eval/prompts.py

ABS_SYSTEM_PROMPT = "You are a fair judge assistant tasked with providing clear, objective feedback based on specific criteria, ensuring each assessment reflects the absolute standards set for performance."  # noqa: E501
REL_SYSTEM_PROMPT = "You are a fair judge assistant assigned to deliver insightful feedback that compares individual performances, highlighting how each stands relative to others within the same cohort."  # noqa: E501

# @8536c6d6f69f492fb364a2173e522d4dad034488: the "Feedback: " wording (each starts with "\n")
ABSOLUTE_PROMPT_8536C6D = """
###Task Description:
An instruction (might include an Input inside it), a response to evaluate, a reference answer that gets a score of 5, and a score rubric representing a evaluation criteria are given.
1. Write a detailed feedback that assess the quality of the response strictly based on the given score rubric, not evaluating in general.
2. After writing a feedback, write a score that is an integer between 1 and 5. You should refer to the score rubric.
3. The output format should look as follows: "Feedback: (write a feedback for criteria) [RESULT] (an integer number between 1 and 5)"
4. Please do not generate any other opening, closing, and explanations.

###The instruction to evaluate:
{instruction}

###Response to evaluate:
{response}

###Reference Answer (Score 5):
{reference_answer}

###Score Rubrics:
{rubric}

###Feedback: """  # noqa: E501

ABSOLUTE_PROMPT_WO_REF_8536C6D = ABSOLUTE_PROMPT_8536C6D.replace(
    "a response to evaluate, a reference answer that gets a score of 5, and",
    "a response to evaluate, and",
).replace("###Reference Answer (Score 5):\n{reference_answer}\n\n", "")

# @485d2b4eaeebbebf991d76ab6698bdd94799e213: no "Feedback: " prefix, four-step relative
ABSOLUTE_PROMPT_485D2B4 = ABSOLUTE_PROMPT_8536C6D[1:].replace(
    '"Feedback: (write a feedback', '"(write a feedback'
)
ABSOLUTE_PROMPT_WO_REF_485D2B4 = ABSOLUTE_PROMPT_WO_REF_8536C6D[1:].replace(
    '"Feedback: (write a feedback', '"(write a feedback'
)
RELATIVE_PROMPT_485D2B4 = """###Task Description:
An instruction (might include an Input inside it), a response to evaluate, a reference answer, and a score rubric representing a evaluation criteria are given.
1. Write a detailed feedback that assess the quality of two responses strictly based on the given score rubric, not evaluating in general.
2. After writing a feedback, choose a better response between Response A and Response B. You should refer to the score rubric.
3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (A or B)"
4. Please do not generate any other opening, closing, and explanations.

###Instruction:
{instruction}

###Response A:
{response_A}

###Response B:
{response_B}

###Reference Answer:
{reference_answer}

###Score Rubric:
{rubric}

###Feedback: """  # noqa: E501
RELATIVE_PROMPT_WO_REF_485D2B4 = RELATIVE_PROMPT_485D2B4.replace(
    "a response to evaluate, a reference answer, and", "a response to evaluate, and"
).replace("###Reference Answer:\n{reference_answer}\n\n", "")

# The five-step relative wording of upstream HEAD (the stored version's commit is not
# given by the search index; see docs/presets.md). WO_REF keeps the header's mention of a
# reference answer, as upstream does.
RELATIVE_PROMPT_HEAD = """###Task Description:
An instruction (might include an Input inside it), two responses to evaluate (denoted as Response A and Response B), a reference answer, and an evaluation criteria are given.
1. Write a detailed feedback that assess the quality of the two responses strictly based on the given evaluation criteria, not evaluating in general.
2. Make comparisons between Response A, Response B, and the Reference Answer. Instead of examining Response A and Response B separately, go straight to the point and mention about the commonalities and differences between them.
3. After writing the feedback, indicate the better response, either "A" or "B".
4. The output format should look as follows: "Feedback: (write a feedback for criteria) [RESULT] (Either "A" or "B")"
5. Please do not generate any other opening, closing, and explanations.

###Instruction:
{instruction}

###Response A:
{response_A}

###Response B:
{response_B}

###Reference Answer:
{reference_answer}

###Score Rubric:
{rubric}

###Feedback: """  # noqa: E501
RELATIVE_PROMPT_WO_REF_HEAD = RELATIVE_PROMPT_HEAD.replace(
    "###Reference Answer:\n{reference_answer}\n\n", ""
)


def fastchat_mistral(system: str, user: str) -> str:
    """prometheus-eval@d7350d19032fc7fb5417140732c8920cf211ca97 ``_get_conversation_prompt``
    (judge.py): FastChat's "mistral" template (``system_template="[INST] {system_message}\\n"``,
    ``SeparatorStyle.LLAMA2``), then ``prompt.strip()`` in vllm.py; vLLM adds the BOS."""
    ret = "[INST] " + system + "\n"  # system_template
    ret += user + " "  # the first message
    ret += "[/INST]"  # the assistant's empty turn: its tag
    return ret.strip()


def prometheus_training_prompt(system: str, instruction: str) -> str:
    """prometheus-eval@176c59cc25e07cdd3330bcd6ae8a73f222089139
    train/recipes/prometheus-v2.0/prepare_dataset.py: one user message
    ``system_prompt + "\\n\\n" + instruction``, in Mistral-7B-Instruct-v0.2's chat template
    (MISTRAL_V02_TEMPLATE, without its BOS text; the BOS is a token)."""
    return "[INST] " + system + "\n\n" + instruction + " [/INST]"


# -- OffsetBias, Selene Mini -------------------------------------------------------------------

OFFSETBIAS_USER = """You are a helpful assistant in evaluating the quality of the outputs for a given instruction. Your goal is to select the best output for the given instruction.
                
Select the Output (a) or Output (b) that is better for the given instruction. The two outputs are generated by two different AI chatbots respectively.
Do NOT provide any explanation for your choice.
Do NOT say both / neither are good.
You should answer using ONLY “Output (a)” or “Output (b)”. Do NOT output any other words.
Here are some rules of the evaluation:
(1) You should prioritize evaluating whether the output honestly/precisely/closely executes the instruction, then consider its helpfulness, accuracy, level of detail, harmlessness, etc.
(2) Outputs should NOT contain more/less than what the instruction asks for, as such outputs do NOT precisely execute the instruction.
(3) You should avoid any potential bias and your judgment should be as objective as possible. For example, the order in which the outputs were presented should NOT affect your judgment, as Output (a) and Output (b) are **equally likely** to be the better.

# Instruction:
{input}
# Output (a):
{output_1}
# Output (b):
{output_2}
# Which is better, Output (a) or Output (b)? Your response should be either “Output (a)” or “Output (b)”:"""  # noqa: E501, W293
"""ncsoft/offsetbias@b735560ddcbcf213dcd64992310d7defb7c76a2e prompt/offsetbias.py ``user``;
module.py sends it as the one user message through the model's chat template."""

SELENE_PAIRWISE = """You are a helpful assistant in evaluating the quality of the responses for a given instruction. Your goal is to select the best response for the given instruction.
Select Response A or Response B, that is better for the given instruction. The two responses are generated by two different AI chatbots respectively.
Do NOT say both / neither are good.

Here are some rules of the evaluation:
(1) You should prioritize evaluating whether the response satisfies the provided rubric. Then consider its helpfulness, accuracy, level of detail, harmlessness, etc.
(2) Responses should NOT contain more/less than what the instruction asks for, as such responses do NOT precisely execute the instruction.
(3) You should avoid any potential bias and your judgment should be as objective as possible. Here are some potential sources of bias:
- The order in which the responses were presented should NOT affect your judgment, as Response A and Response B are **equally likely** to be the better.
- The length of the responses should NOT affect your judgement, as a longer response does not necessarily correspond to a better response. When making your decision, evaluate if the response length is appropriate for the given instruction.

Your reply should strictly follow this format:
**Reasoning:** <feedback evaluating the responses>

**Result:** <A or B>

Here is the data.

Instruction:
```
{user_input}
```

Response A:
```
{assistant_response_a}
```

Response B:
```
{assistant_response_b}
```

Score Rubrics:
[{rubric_objective}]"""  # noqa: E501
"""atla-ai/selene-mini@ef20b3f49b9e220685ed31c7906fd13eb2319de4 prompt-templates/pairwise.yaml."""

SELENE_ABSOLUTE = """You are tasked with evaluating a response based on a given instruction (which may contain an Input) and a scoring rubric that serve as the evaluation standard. Provide a comprehensive feedback on the response quality strictly adhering to the scoring rubric, without any general evaluation. Follow this with a score between 1 and 5, referring to the scoring rubric. Avoid generating any additional opening, closing, or explanations.

Here are some rules of the evaluation:
(1) You should prioritize evaluating whether the response satisfies the provided rubric. The basis of your score should depend exactly on the rubric. However, the response does not need to explicitly address points raised in the rubric. Rather, evaluate the response based on the criteria outlined in the rubric.

Your reply should strictly follow this format:
**Reasoning:** <Your feedback>

**Result:** <an integer between 1 and 5>

Here is the data:

Instruction:
```
{user_input}
```

Response:
```
{assistant_response}
```

Score Rubrics:
[{rubric_objective}]
Score 1: {rubric_score_1_description}
Score 2: {rubric_score_2_description}
Score 3: {rubric_score_3_description}
Score 4: {rubric_score_4_description}
Score 5: {rubric_score_5_description}"""  # noqa: E501
"""atla-ai/selene-mini@ef20b3f49b9e220685ed31c7906fd13eb2319de4 absolute-scoring.yaml."""


# -- the final string each fine-tuned preset must produce ----------------------------------


def upstream_final_prompt(
    preset: str,
    *,
    instruction: str,
    responses: tuple[str, ...],
    reference: str | None = None,
    rubric: str = "",
    input_text: str = "",
    bos_text: str = "",
) -> str:
    """What upstream's inference code sends for ``preset`` (responses in shown order).

    ``bos_text`` is the tokenizer's BOS text, which a chat template writes as text; for
    raw layouts the BOS is a token, never text, so it is not part of the string.
    """
    if preset == "pandalm":
        return pandalm_prompt(instruction, input_text, *responses)
    if preset == "judgelm":
        return judgelm_prompt(instruction, *responses, reference)
    if preset == "auto-j":
        return autoj_prompt(instruction, *responses, "pairwise_tie")
    if preset == "auto-j-single":
        return autoj_prompt(instruction, responses[0], None, "single")
    if preset.startswith("prometheus2-"):
        return bos_text + prometheus_prompt(
            preset, instruction=instruction, responses=responses, reference=reference, rubric=rubric
        )
    if preset == "offsetbias":
        user = OFFSETBIAS_USER.format(
            input=instruction, output_1=responses[0], output_2=responses[1]
        )
        return llama3_prompt(bos_text, user)
    if preset == "selene-mini":
        user = SELENE_PAIRWISE.format(
            user_input=instruction,
            assistant_response_a=responses[0],
            assistant_response_b=responses[1],
            rubric_objective=rubric,
        )
        return llama3_prompt(bos_text, user)
    if preset == "selene-mini-absolute":
        criteria, *scores = rubric.split("\n")
        descriptions = {
            f"rubric_score_{i + 1}_description": s.split(": ", 1)[1] for i, s in enumerate(scores)
        }
        user = SELENE_ABSOLUTE.format(
            user_input=instruction,
            assistant_response=responses[0],
            rubric_objective=criteria.strip("[]"),
            **descriptions,
        )
        return llama3_prompt(bos_text, user)
    raise AssertionError(preset)


def prometheus_prompt(
    preset: str,
    *,
    instruction: str,
    responses: tuple[str, ...],
    reference: str | None,
    rubric: str,
) -> str:
    """Prometheus 2 in its training layout (system + blank line + instruction, one [INST]
    turn). For the default absolute preset this is also the library's own inference at
    @8536c6d (FastChat "mistral" on a template that starts with a newline), checked here."""
    if preset == "prometheus2-absolute":
        template = ABSOLUTE_PROMPT_8536C6D if reference else ABSOLUTE_PROMPT_WO_REF_8536C6D
        content = template.format(
            instruction=instruction,
            response=responses[0],
            reference_answer=reference,
            rubric=rubric,
        )
        library = fastchat_mistral(ABS_SYSTEM_PROMPT, content)
        training = prometheus_training_prompt(ABS_SYSTEM_PROMPT, content.lstrip("\n"))
        assert library == training  # the leading newline makes FastChat's "\n" a blank line
        return training
    if preset == "prometheus2-absolute-noprefix":
        template = ABSOLUTE_PROMPT_485D2B4 if reference else ABSOLUTE_PROMPT_WO_REF_485D2B4
        content = template.format(
            instruction=instruction,
            response=responses[0],
            reference_answer=reference,
            rubric=rubric,
        )
        return prometheus_training_prompt(ABS_SYSTEM_PROMPT, content)
    if preset == "prometheus2-relative":
        template = RELATIVE_PROMPT_HEAD if reference else RELATIVE_PROMPT_WO_REF_HEAD
    elif preset == "prometheus2-relative-4step":
        template = RELATIVE_PROMPT_485D2B4 if reference else RELATIVE_PROMPT_WO_REF_485D2B4
    else:
        raise AssertionError(preset)
    content = template.format(
        instruction=instruction,
        response_A=responses[0],
        response_B=responses[1],
        reference_answer=reference,
        rubric=rubric,
    )
    return prometheus_training_prompt(REL_SYSTEM_PROMPT, content)


FINE_TUNED_LAYOUTS = {
    # preset: (layout, the upstream chat template for chat / user-only layouts)
    "judgelm": ("raw", None),
    "pandalm": ("raw", None),
    "auto-j": ("raw", None),
    "auto-j-single": ("raw", None),
    "prometheus2-absolute": ("user-only", MISTRAL_V02_TEMPLATE),
    "prometheus2-absolute-noprefix": ("user-only", MISTRAL_V02_TEMPLATE),
    "prometheus2-relative": ("user-only", MISTRAL_V02_TEMPLATE),
    "prometheus2-relative-4step": ("user-only", MISTRAL_V02_TEMPLATE),
    "offsetbias": ("chat", LLAMA3_TEMPLATE),
    "selene-mini": ("chat", LLAMA3_TEMPLATE),
    "selene-mini-absolute": ("chat", LLAMA3_TEMPLATE),
}
"""Every fine-tuned preset, its layout, and the chat template its model ships with."""


# -- FastChat MT-Bench multi-turn prompts ----------------------------------------------------
# lm-sys/FastChat@0e6e7fdc78bf64aceea1508694ce4e6472810b8b
# fastchat/llm_judge/data/judge_prompts.jsonl, prompts pair-v2-multi-turn and
# single-v1-multi-turn (system_prompt and prompt_template, filled with str.format as
# fastchat/llm_judge/common.py run_judge_pair / run_judge_single do).

FASTCHAT_PAIR_V2_MULTI_TURN_SYSTEM = 'Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to the user questions. You should choose the assistant that follows the user\'s instructions and answers the user\'s questions better. Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of their responses. You should focus on who provides a better answer to the second user question. Begin your evaluation by comparing the responses of the two assistants and provide a short explanation. Avoid any positional biases and ensure that the order in which the responses were presented does not influence your decision. Do not allow the length of the responses to influence your evaluation. Do not favor certain names of the assistants. Be as objective as possible. After providing your explanation, output your final verdict by strictly following this format: "[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.'  # noqa: E501
FASTCHAT_PAIR_V2_MULTI_TURN = "<|The Start of Assistant A's Conversation with User|>\n\n### User:\n{question_1}\n\n### Assistant A:\n{answer_a_1}\n\n### User:\n{question_2}\n\n### Assistant A:\n{answer_a_2}\n\n<|The End of Assistant A's Conversation with User|>\n\n\n<|The Start of Assistant B's Conversation with User|>\n\n### User:\n{question_1}\n\n### Assistant B:\n{answer_b_1}\n\n### User:\n{question_2}\n\n### Assistant B:\n{answer_b_2}\n\n<|The End of Assistant B's Conversation with User|>"  # noqa: E501
FASTCHAT_SINGLE_V1_MULTI_TURN_SYSTEM = 'Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user question displayed below. Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. You evaluation should focus on the assistant\'s answer to the second user question. Begin your evaluation by providing a short explanation. Be as objective as possible. After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: "[[rating]]", for example: "Rating: [[5]]".\n\n'  # noqa: E501
FASTCHAT_SINGLE_V1_MULTI_TURN = "<|The Start of Assistant A's Conversation with User|>\n\n### User:\n{question_1}\n\n### Assistant A:\n{answer_1}\n\n### User:\n{question_2}\n\n### Assistant A:\n{answer_2}\n\n<|The End of Assistant A's Conversation with User|>"  # noqa: E501
