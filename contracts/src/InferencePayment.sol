// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {FARToken} from "./FARToken.sol";

/// @title Escrowed payment for GPU inference tasks.
/// @notice Users deposit FAR, escrow it per task, and the oracle settles each task: the node,
/// the stakers and the treasury are paid from the escrow and the rest is refunded.
/// @dev Fixes against the original spec:
///  - settlement is bounded by the escrow (`actualCost <= escrow`, `score <= 100`) and the split
///    is exact: node + stakers + treasury == actualCost, the treasury absorbing the node's
///    performance adjustment (the spec could pay out 106% of the cost);
///  - the staker share really reaches stakers (FARToken's revenue accumulator);
///  - every state change emits an event with indexed keys;
///  - a task never settled can be cancelled by its user after `taskTimeout`, and a failed task
///    is refunded in full;
///  - the oracle can settle, or report as failed, many tasks in one transaction;
///  - a task id is derived from its creator and a salt (`taskIdOf`), so nobody can take an id
///    another user is about to open (the spec's caller-chosen global ids could be front-run
///    with the same id and a 1-wei escrow).
contract InferencePayment is AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    bytes32 public constant ORACLE_ROLE = keccak256("ORACLE_ROLE");
    bytes32 public constant NODE_ROLE = keccak256("NODE_ROLE");

    uint256 public constant NODE_SHARE = 60;
    uint256 public constant STAKER_SHARE = 20;
    uint256 public constant TREASURY_SHARE = 20;
    uint256 public constant MAX_SCORE = 100;
    uint256 public constant BASE_SCORE = 80;
    uint256 public constant INITIAL_RELIABILITY = 80;
    uint256 public constant MAX_TASK_TIMEOUT = 30 days;

    enum TaskStatus {
        None,
        Created,
        Completed,
        Cancelled
    }

    struct Task {
        address user;
        address node;
        uint256 amount;
        uint256 timestamp;
        TaskStatus status;
    }

    struct NodeInfo {
        address owner;
        uint256 totalEarned;
        uint256 tasksCompleted;
        uint256 reliability;
        bool active;
        uint256 tasksFailed;
    }

    struct Settlement {
        bytes32 taskId;
        address node;
        uint256 actualCost;
        uint256 performanceScore;
    }

    struct Failure {
        bytes32 taskId;
        address node;
    }

    struct Split {
        uint256 nodePayment;
        uint256 stakerPayment;
        uint256 treasuryPayment;
        uint256 refund;
    }

    FARToken public immutable farToken;
    AggregatorV3Interface public immutable priceFeed;
    address public treasury;
    uint256 public taskTimeout;

    mapping(bytes32 => Task) public tasks;
    mapping(address => NodeInfo) public nodes;
    mapping(address => uint256) public userBalances;
    /// Sum of the escrow of every task still in Created state.
    uint256 public totalEscrowed;
    /// Sum of every user's deposited, unescrowed balance.
    uint256 public totalUserBalances;

    event Deposited(address indexed user, uint256 amount, uint256 newBalance);
    event Withdrawn(address indexed user, uint256 amount, uint256 newBalance);
    event TaskCreated(bytes32 indexed taskId, address indexed user, uint256 escrow, uint256 newBalance);
    event TaskCompleted(
        bytes32 indexed taskId,
        address indexed user,
        address indexed node,
        uint256 actualCost,
        uint256 nodePayment,
        uint256 stakerPayment,
        uint256 treasuryPayment,
        uint256 refund,
        uint256 performanceScore
    );
    /// `node` is zero when the user cancelled after the timeout, and the failing node otherwise.
    event TaskCancelled(bytes32 indexed taskId, address indexed user, address indexed node, uint256 refund, bool failed);
    event SettlementSkipped(bytes32 indexed taskId, TaskStatus status);
    event NodeRegistered(address indexed node, address indexed owner, uint256 reliability);
    event NodeDeactivated(address indexed node);
    event NodeRatingUpdated(address indexed node, uint256 oldRating, uint256 newRating);
    event TreasuryUpdated(address indexed oldTreasury, address indexed newTreasury);
    event TaskTimeoutUpdated(uint256 oldTimeout, uint256 newTimeout);

    error ZeroAmount();
    error ZeroAddress();
    error InsufficientBalance(uint256 available, uint256 requested);
    error TaskExists(bytes32 taskId);
    error TaskNotOpen(bytes32 taskId, TaskStatus status);
    error NotTaskUser(bytes32 taskId);
    error TaskNotExpired(bytes32 taskId, uint256 expiresAt);
    error NodeNotActive(address node);
    error NodeAlreadyActive(address node);
    error UnknownNode(address node);
    error CostExceedsEscrow(bytes32 taskId, uint256 actualCost, uint256 escrow);
    error ScoreOutOfRange(uint256 score);
    error RatingOutOfRange(uint256 rating);
    error TimeoutTooLong(uint256 timeout);

    constructor(address admin, address farToken_, address treasury_, address priceFeed_, uint256 taskTimeout_) {
        if (admin == address(0) || farToken_ == address(0) || treasury_ == address(0) || priceFeed_ == address(0)) {
            revert ZeroAddress();
        }
        if (taskTimeout_ > MAX_TASK_TIMEOUT) revert TimeoutTooLong(taskTimeout_);
        farToken = FARToken(farToken_);
        priceFeed = AggregatorV3Interface(priceFeed_);
        treasury = treasury_;
        taskTimeout = taskTimeout_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        // Announced at deploy so an indexer learns where the treasury share goes from events alone.
        emit TreasuryUpdated(address(0), treasury_);
        emit TaskTimeoutUpdated(0, taskTimeout_);
    }

    function deposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        IERC20(address(farToken)).safeTransferFrom(msg.sender, address(this), amount);
        uint256 newBalance = userBalances[msg.sender] + amount;
        userBalances[msg.sender] = newBalance;
        totalUserBalances += amount;
        emit Deposited(msg.sender, amount, newBalance);
    }

    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 available = userBalances[msg.sender];
        if (available < amount) revert InsufficientBalance(available, amount);
        uint256 newBalance = available - amount;
        userBalances[msg.sender] = newBalance;
        totalUserBalances -= amount;
        IERC20(address(farToken)).safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount, newBalance);
    }

    /// @notice Escrows `estimatedCost` of the caller's deposit for a new task whose id is
    /// `taskIdOf(msg.sender, salt)`: only the caller can open an id in that space, so a pending
    /// createTask cannot be squatted. Reusing a salt reverts with `TaskExists`.
    /// @dev A caller's salt rather than a per-creator nonce: the id is known before the
    /// transaction is mined (the scheduler reports it), one account's concurrent createTasks need
    /// no ordering, and a reorg that reorders them cannot hand an id to a different task.
    function createTask(bytes32 salt, uint256 estimatedCost) external nonReentrant returns (bytes32 taskId) {
        if (estimatedCost == 0) revert ZeroAmount();
        taskId = taskIdOf(msg.sender, salt);
        if (tasks[taskId].status != TaskStatus.None) revert TaskExists(taskId);
        uint256 available = userBalances[msg.sender];
        if (available < estimatedCost) revert InsufficientBalance(available, estimatedCost);
        uint256 newBalance = available - estimatedCost;
        userBalances[msg.sender] = newBalance;
        totalUserBalances -= estimatedCost;
        totalEscrowed += estimatedCost;
        tasks[taskId] = Task({
            user: msg.sender,
            node: address(0),
            amount: estimatedCost,
            timestamp: block.timestamp,
            status: TaskStatus.Created
        });
        emit TaskCreated(taskId, msg.sender, estimatedCost, newBalance);
    }

    function completeTask(bytes32 taskId, address node, uint256 actualCost, uint256 performanceScore)
        external
        onlyRole(ORACLE_ROLE)
        nonReentrant
    {
        Split memory split = _settle(Settlement(taskId, node, actualCost, performanceScore));
        _payStakersAndTreasury(split.stakerPayment, split.treasuryPayment);
    }

    /// @notice Settles many tasks in one transaction. Tasks no longer open (already settled or
    /// cancelled) are skipped with `SettlementSkipped`, so a batch replayed after a partial
    /// reorg cannot pay twice; any other invalid settlement reverts the whole batch.
    function completeTasks(Settlement[] calldata settlements) external onlyRole(ORACLE_ROLE) nonReentrant {
        uint256 stakerTotal;
        uint256 treasuryTotal;
        for (uint256 i = 0; i < settlements.length; i++) {
            TaskStatus status = tasks[settlements[i].taskId].status;
            if (status != TaskStatus.Created) {
                emit SettlementSkipped(settlements[i].taskId, status);
                continue;
            }
            Split memory split = _settle(settlements[i]);
            stakerTotal += split.stakerPayment;
            treasuryTotal += split.treasuryPayment;
        }
        _payStakersAndTreasury(stakerTotal, treasuryTotal);
    }

    /// @notice The oracle reports a task the node failed: the user gets the whole escrow back.
    /// A deactivated node can still be blamed, since failing is often why it was deactivated.
    function failTask(bytes32 taskId, address node) external onlyRole(ORACLE_ROLE) nonReentrant {
        _fail(Failure(taskId, node));
    }

    /// @notice Reports many failed tasks in one transaction, each with exactly `failTask`'s
    /// effects. Like `completeTasks`, tasks no longer open are skipped with `SettlementSkipped`,
    /// so a replayed batch can never refund twice; an unknown node reverts the whole batch.
    function failTasks(Failure[] calldata failures) external onlyRole(ORACLE_ROLE) nonReentrant {
        for (uint256 i = 0; i < failures.length; i++) {
            TaskStatus status = tasks[failures[i].taskId].status;
            if (status != TaskStatus.Created) {
                emit SettlementSkipped(failures[i].taskId, status);
                continue;
            }
            _fail(failures[i]);
        }
    }

    /// @notice The task's user takes the escrow back once the task has waited `taskTimeout`.
    function cancelTask(bytes32 taskId) external nonReentrant {
        Task storage task = tasks[taskId];
        if (task.user != msg.sender) revert NotTaskUser(taskId);
        uint256 expiresAt = task.timestamp + taskTimeout;
        if (block.timestamp < expiresAt) revert TaskNotExpired(taskId, expiresAt);
        _cancel(taskId, address(0));
    }

    /// @notice Registers a node, or reactivates a deactivated one keeping its history.
    function registerNode(address node, address owner) external onlyRole(ORACLE_ROLE) {
        if (node == address(0) || owner == address(0)) revert ZeroAddress();
        NodeInfo storage info = nodes[node];
        if (info.active) revert NodeAlreadyActive(node);
        if (info.owner == address(0)) info.reliability = INITIAL_RELIABILITY;
        info.owner = owner;
        info.active = true;
        _grantRole(NODE_ROLE, node);
        emit NodeRegistered(node, owner, info.reliability);
    }

    function deactivateNode(address node) external onlyRole(ORACLE_ROLE) {
        if (!nodes[node].active) revert NodeNotActive(node);
        nodes[node].active = false;
        _revokeRole(NODE_ROLE, node);
        emit NodeDeactivated(node);
    }

    function updateNodeRating(address node, uint256 newRating) external onlyRole(ORACLE_ROLE) {
        if (!nodes[node].active) revert NodeNotActive(node);
        if (newRating > MAX_SCORE) revert RatingOutOfRange(newRating);
        _setReliability(node, newRating);
    }

    function setTreasury(address newTreasury) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newTreasury == address(0)) revert ZeroAddress();
        emit TreasuryUpdated(treasury, newTreasury);
        treasury = newTreasury;
    }

    function setTaskTimeout(uint256 newTimeout) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newTimeout > MAX_TASK_TIMEOUT) revert TimeoutTooLong(newTimeout);
        emit TaskTimeoutUpdated(taskTimeout, newTimeout);
        taskTimeout = newTimeout;
    }

    /// @notice The id `createTask(salt, …)` gives a task opened by `creator`.
    function taskIdOf(address creator, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(creator, salt));
    }

    function getLatestPrice() public view returns (int256) {
        (, int256 price,,,) = priceFeed.latestRoundData();
        return price;
    }

    /// @notice The exact split of `actualCost`: the node gets 60% adjusted by ±10% for its
    /// score, stakers 20%, and the treasury the remainder, so the three always sum to the cost.
    /// @dev With nothing staked the staker share goes to the treasury: there is nobody to pay.
    function computeSplit(uint256 actualCost, uint256 performanceScore, bool anyStake)
        public
        pure
        returns (uint256 nodePayment, uint256 stakerPayment, uint256 treasuryPayment)
    {
        if (performanceScore > MAX_SCORE) revert ScoreOutOfRange(performanceScore);
        // The spec's formula reaches −40% at score 0; its stated intent, and ours, is ±10%.
        uint256 adjustment = performanceScore >= BASE_SCORE
            ? 100 + (performanceScore - BASE_SCORE) / 2
            : 100 - _min((BASE_SCORE - performanceScore) / 2, 10);
        nodePayment = (actualCost * NODE_SHARE * adjustment) / 10_000;
        stakerPayment = anyStake ? (actualCost * STAKER_SHARE) / 100 : 0;
        treasuryPayment = actualCost - nodePayment - stakerPayment;
    }

    function _settle(Settlement memory s) private returns (Split memory split) {
        Task storage task = tasks[s.taskId];
        if (task.status != TaskStatus.Created) revert TaskNotOpen(s.taskId, task.status);
        if (!nodes[s.node].active) revert NodeNotActive(s.node);
        uint256 escrow = task.amount;
        if (s.actualCost > escrow) revert CostExceedsEscrow(s.taskId, s.actualCost, escrow);
        (split.nodePayment, split.stakerPayment, split.treasuryPayment) =
            computeSplit(s.actualCost, s.performanceScore, farToken.totalStaked() > 0);
        split.refund = escrow - s.actualCost;

        task.status = TaskStatus.Completed;
        task.node = s.node;
        totalEscrowed -= escrow;
        if (split.refund > 0) {
            userBalances[task.user] += split.refund;
            totalUserBalances += split.refund;
        }

        NodeInfo storage info = nodes[s.node];
        info.totalEarned += split.nodePayment;
        info.tasksCompleted += 1;
        _setReliability(s.node, (s.performanceScore + info.reliability) / 2);

        if (split.nodePayment > 0) IERC20(address(farToken)).safeTransfer(s.node, split.nodePayment);
        emit TaskCompleted(
            s.taskId,
            task.user,
            s.node,
            s.actualCost,
            split.nodePayment,
            split.stakerPayment,
            split.treasuryPayment,
            split.refund,
            s.performanceScore
        );
    }

    function _payStakersAndTreasury(uint256 stakerTotal, uint256 treasuryTotal) private {
        if (stakerTotal > 0) farToken.distributeRevenue(stakerTotal);
        if (treasuryTotal > 0) IERC20(address(farToken)).safeTransfer(treasury, treasuryTotal);
    }

    function _fail(Failure memory f) private {
        if (nodes[f.node].owner == address(0)) revert UnknownNode(f.node);
        nodes[f.node].tasksFailed += 1;
        _cancel(f.taskId, f.node);
    }

    function _cancel(bytes32 taskId, address node) private {
        Task storage task = tasks[taskId];
        if (task.status != TaskStatus.Created) revert TaskNotOpen(taskId, task.status);
        uint256 refund = task.amount;
        task.status = TaskStatus.Cancelled;
        task.node = node;
        totalEscrowed -= refund;
        userBalances[task.user] += refund;
        totalUserBalances += refund;
        emit TaskCancelled(taskId, task.user, node, refund, node != address(0));
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    function _setReliability(address node, uint256 newRating) private {
        uint256 oldRating = nodes[node].reliability;
        if (oldRating == newRating) return;
        nodes[node].reliability = newRating;
        emit NodeRatingUpdated(node, oldRating, newRating);
    }
}
